/*
 * A decrypter library as a seed user writes one (smem.h, SMEM_DECRYPTER_SYMBOL):
 * DecryptPassword undoes a toy scheme, "ENC:" followed by the password
 * reversed. It insists on being called the seed's way: a NUL-terminated
 * cipher text of cipher_len bytes and a zeroed output buffer of plain_cap
 * bytes. Loaded by it.seed_smem through storeTlsConfig.decrypterLibPath.
 */
#include <stddef.h>
#include <string.h>

__attribute__((visibility("default"))) int DecryptPassword(const char *cipher, size_t cipher_len, char *plain,
                                                           size_t plain_cap);

int DecryptPassword(const char *cipher, size_t cipher_len, char *plain, size_t plain_cap)
{
    static const char prefix[] = "ENC:";
    const size_t pl = sizeof(prefix) - 1;
    if (cipher == NULL || plain == NULL || cipher[cipher_len] != '\0') return -1;
    if (cipher_len < pl || memcmp(cipher, prefix, pl) != 0) return -2;
    size_t n = cipher_len - pl;
    if (n + 1 > plain_cap) return -3;
    for (size_t i = 0; i < plain_cap; i++)
        if (plain[i] != '\0') return -4;
    for (size_t i = 0; i < n; i++) plain[i] = cipher[cipher_len - 1 - i];
    return 0;
}
