/*
 * SMEM_API marks the calls libsmem.so exports. The library is built with
 * hidden visibility (CMakeLists.txt), so a function is part of the shared
 * library's interface only when its public declaration carries SMEM_API;
 * scripts/check-exports.sh (ctest lint.exports) checks that `nm -D` of
 * libsmem.so lists exactly the SMEM_API declarations of include/.
 */
#ifndef SMEM_HOST_SMEM_EXPORT_H
#define SMEM_HOST_SMEM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SMEM_API __attribute__((visibility("default")))
#else
#define SMEM_API
#endif

#endif
