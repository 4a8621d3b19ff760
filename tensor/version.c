/* version.c */
#include "minitensor/version.h"

const char *mt_version(void) { return MT_VERSION_STRING; }
