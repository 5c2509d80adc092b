/* memcache status helpers: translation of the smem status space (errors of
 * src/net, src/store, src/util) into MMC_* codes at the memcache boundary. */
#ifndef MMC_ERR_H
#define MMC_ERR_H

#include <stdint.h>

#include "memcache/mmc_def.h"

/* MMC_* codes (and 0) pass through; smem codes map to the nearest MMC_* one. */
int32_t mmc_status_from_smem(int32_t status);

#endif
