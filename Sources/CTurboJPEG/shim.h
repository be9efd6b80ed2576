// libjpeg-turbo's TurboJPEG API (Debian's libturbojpeg0-dev). Unlike jpeglib.h, whose default
// error handler calls exit() and whose recovery path needs longjmp (which Swift cannot do),
// TurboJPEG catches libjpeg errors inside C and returns -1 with a message: safe from Swift.
#include <turbojpeg.h>
