/* bootlab clock skew (scripts/clockskew.py builds it and lists it in a lab host's
 * /etc/ld.so.preload): every program the host starts reads a wall clock SKEW seconds off,
 * SKEW read from /etc/bootlab-clock-skew when the program starts. CLOCK_REALTIME (and its
 * coarse, alarm and TAI forms), gettimeofday, time and timespec_get are shifted;
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME, sleeps and timed waits are not. Nothing is ever set:
 * the kernel clock, which a container lab host shares with the machine, stays as it is.
 *
 * Why not libfaketime (Debian bookworm's 0.9.10, tried with python3.11): with
 * FAKETIME="+1.5" it reports CLOCK_MONOTONIC as the faked wall time (threading.Event().wait(0.3)
 * never returns), and with FAKETIME_DONT_FAKE_MONOTONIC=1 time.sleep() fails with EINVAL (its
 * clock_nanosleep interception): every OpenStack service would hang or fail. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#define SKEW_FILE "/etc/bootlab-clock-skew"
#define NS 1000000000LL

static long long skew_ns;
static int loaded;
static int (*next_clock_gettime)(clockid_t, struct timespec *);
static int (*next_gettimeofday)(struct timeval *, void *);

static void load(void)
{
    if (loaded)
        return;
    next_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    next_gettimeofday = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    const char *path = getenv("BOOTLAB_CLOCK_SKEW_FILE"); /* for trying it on one program */
    FILE *file = fopen(path != NULL ? path : SKEW_FILE, "re");
    if (file != NULL) {
        long long whole = 0, fraction = 0;
        int digits = 0, c, sign = 1;
        /* [+-]S[.FFFFFFFFF], read by hand: no locale, no floating point */
        c = fgetc(file);
        if (c == '-' || c == '+') {
            sign = c == '-' ? -1 : 1;
            c = fgetc(file);
        }
        for (; c >= '0' && c <= '9'; c = fgetc(file))
            whole = whole * 10 + (c - '0');
        if (c == '.')
            for (c = fgetc(file); c >= '0' && c <= '9' && digits < 9; c = fgetc(file), digits++)
                fraction = fraction * 10 + (c - '0');
        for (; digits < 9; digits++)
            fraction *= 10;
        skew_ns = sign * (whole * NS + fraction);
        fclose(file);
    }
    loaded = 1;
}

__attribute__((constructor)) static void init(void) { load(); }

static int shifted(clockid_t clock)
{
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_REALTIME_ALARM
           || clock == CLOCK_TAI;
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    load();
    int rc = next_clock_gettime(clock, ts);
    if (rc == 0 && skew_ns != 0 && shifted(clock)) {
        long long ns = (long long)ts->tv_sec * NS + ts->tv_nsec + skew_ns;
        ts->tv_sec = (time_t)(ns / NS);
        ts->tv_nsec = (long)(ns % NS);
    }
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    load();
    int rc = next_gettimeofday(tv, tz);
    if (rc == 0 && skew_ns != 0) {
        long long us = (long long)tv->tv_sec * 1000000LL + tv->tv_usec + skew_ns / 1000;
        tv->tv_sec = (time_t)(us / 1000000LL);
        tv->tv_usec = (suseconds_t)(us % 1000000LL);
    }
    return rc;
}

time_t time(time_t *out)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    if (out != NULL)
        *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base)
{
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0)
        return 0;
    return base;
}
