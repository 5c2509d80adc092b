/*
 * Driver for fuzz targets when not building with libFuzzer:
 *   fuzz_<name> SECONDS [CORPUS_DIR]
 * Runs every file of CORPUS_DIR once, then random inputs and mutations of
 * the corpus (bit flips, byte edits, truncation, splicing) until SECONDS have
 * passed, and prints "<name>: N inputs, 0 crashes". A crash (abort, sanitizer
 * report, signal) ends the process with the failing input dumped in hex.
 * The seed is printed and can be fixed with FUZZ_SEED for reproduction.
 *
 * main and a no-op LLVMFuzzerTestOneInput are weak because tests/CMakeLists.txt
 * globs fuzz/fuzz_*.c, which also matches this file: it then builds a
 * "fuzz_replay_main" target from two copies of it. Weak symbols let that link
 * (and run harmlessly), and a real target's strong definition always wins.
 */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPLAY_MAX_LEN 4096
#define REPLAY_MAX_SEEDS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_no_target;

__attribute__((weak)) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)data;
    (void)size;
    replay_no_target = 1;
    return 0;
}

static const uint8_t *cur_data;
static size_t cur_len;
static unsigned long long cur_n;

static void on_crash(int sig)
{
    /* async-signal-safe enough for a dying test process */
    char line[64];
    int n = snprintf(line, sizeof(line), "\ncrash (signal %d) on input #%llu, %zu bytes:\n", sig, cur_n, cur_len);
    if (write(2, line, (size_t)n) < 0) {
        /* nothing to do: we are about to die anyway */
    }
    for (size_t i = 0; cur_data != NULL && i < cur_len && i < 512; i++) {
        n = snprintf(line, sizeof(line), "%02x%s", cur_data[i], (i % 32 == 31) ? "\n" : "");
        if (write(2, line, (size_t)n) < 0) {
            break;
        }
    }
    if (write(2, "\n", 1) < 0) {
        /* as above */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t len)
{
    cur_data = data;
    cur_len = len;
    cur_n++;
    LLVMFuzzerTestOneInput(data, len);
}

typedef struct seed {
    uint8_t *p;
    size_t len;
} seed_t;

static size_t load_corpus(const char *dir, seed_t *seeds)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (d == NULL) {
        fprintf(stderr, "fuzz: cannot open corpus %s; random inputs only\n", dir);
        return 0;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < REPLAY_MAX_SEEDS) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            continue;
        }
        uint8_t *buf = malloc(REPLAY_MAX_LEN);
        size_t len = buf != NULL ? fread(buf, 1, REPLAY_MAX_LEN, f) : 0;
        fclose(f);
        if (buf == NULL) {
            continue;
        }
        seeds[n].p = buf;
        seeds[n].len = len;
        n++;
    }
    closedir(d);
    return n;
}

static size_t mutate(uint8_t *buf, size_t len, const seed_t *seeds, size_t nseeds)
{
    int edits = 1 + rand() % 4;
    for (int i = 0; i < edits; i++) {
        switch (rand() % 6) {
        case 0: /* flip a bit */
            if (len > 0) buf[rand() % len] ^= (uint8_t)(1u << (rand() % 8));
            break;
        case 1: /* set an interesting byte */
            if (len > 0) {
                static const uint8_t vals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x10};
                buf[rand() % len] = vals[rand() % sizeof(vals)];
            }
            break;
        case 2: /* truncate */
            if (len > 0) len = (size_t)rand() % len;
            break;
        case 3: /* append random bytes */
            for (int k = rand() % 64; k > 0 && len < REPLAY_MAX_LEN; k--) buf[len++] = (uint8_t)rand();
            break;
        case 4: /* splice another seed onto the end */
            if (nseeds > 0) {
                const seed_t *s = &seeds[(size_t)rand() % nseeds];
                size_t n = s->len < REPLAY_MAX_LEN - len ? s->len : REPLAY_MAX_LEN - len;
                memcpy(buf + len, s->p, n);
                len += n;
            }
            break;
        default: /* duplicate a range */
            if (len > 1 && len < REPLAY_MAX_LEN) {
                size_t a = (size_t)rand() % len, n = 1 + (size_t)rand() % (len - a);
                if (n > REPLAY_MAX_LEN - len) n = REPLAY_MAX_LEN - len;
                memmove(buf + a + n, buf + a, len - a > REPLAY_MAX_LEN - a - n ? REPLAY_MAX_LEN - a - n : len - a);
                len += n;
            }
            break;
        }
    }
    return len;
}

__attribute__((weak)) int main(int argc, char **argv);

__attribute__((weak)) int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SECONDS [CORPUS_DIR]\n", argv[0]);
        return 2;
    }
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    double seconds = atof(argv[1]);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);
    signal(SIGABRT, on_crash);

    static seed_t seeds[REPLAY_MAX_SEEDS];
    size_t nseeds = argc > 2 ? load_corpus(argv[2], seeds) : 0;
    for (size_t i = 0; i < nseeds; i++) {
        run_one(seeds[i].p, seeds[i].len);
    }
    unsigned seed = getenv("FUZZ_SEED") ? (unsigned)strtoul(getenv("FUZZ_SEED"), NULL, 0) : (unsigned)time(NULL);
    srand(seed);
    static uint8_t buf[REPLAY_MAX_LEN];
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        for (int batch = 0; batch < 256; batch++) {
            size_t len;
            if (nseeds > 0 && rand() % 4 != 0) {
                const seed_t *s = &seeds[(size_t)rand() % nseeds];
                memcpy(buf, s->p, s->len);
                len = mutate(buf, s->len, seeds, nseeds);
            } else {
                len = (size_t)rand() % 512;
                for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rand();
            }
            run_one(buf, len);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) {
            break;
        }
    }
    printf("%s: %llu inputs, 0 crashes (%zu seeds, seed %u)%s\n", name, cur_n, nseeds, seed,
           replay_no_target ? " [no fuzz target linked: nothing was tested]" : "");
    for (size_t i = 0; i < nseeds; i++) free(seeds[i].p);
    return 0;
}
