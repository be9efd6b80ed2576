// Image models: see issue 6.
