/*
 * MMC_API marks the calls libmmc.so exports. The library is built with
 * hidden visibility (CMakeLists.txt), so a function is part of the shared
 * library's interface only when its public declaration carries MMC_API;
 * scripts/check-exports.sh (ctest lint.exports) checks that `nm -D` of
 * libmmc.so lists exactly the MMC_API declarations of include/.
 */
#ifndef MMC_EXPORT_H
#define MMC_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define MMC_API __attribute__((visibility("default")))
#else
#define MMC_API
#endif

#endif
