// Debian's libkissfft-dev, float build (its pkg-config file defines the same).
#ifndef kiss_fft_scalar
#define kiss_fft_scalar float
#endif
#include <kissfft/kiss_fftr.h>
