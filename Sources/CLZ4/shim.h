#ifndef CKPT_CLZ4_SHIM_H
#define CKPT_CLZ4_SHIM_H
#include <lz4.h>
#endif
