#pragma once
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>   // the head gate's accept loop
#include <sys/eventfd.h>
#include <microhttpd.h>
#include <stdio.h>       // /proc/self/maps: the JSON error bodies below
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/// MHD_start_daemon is variadic; Swift passes every option through one MHD_OPTION_ARRAY.
static inline struct MHD_Daemon *pingroll_mhd_start(unsigned int flags, uint16_t port,
                                                    MHD_AccessHandlerCallback handler, void *handler_cls,
                                                    struct MHD_OptionItem *options) {
    return MHD_start_daemon(flags, port, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The client address of a connection, or NULL.
static inline const struct sockaddr *pingroll_mhd_client_address(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info == NULL ? NULL : info->client_addr;
}

/// The socket of a connection, or -1.
static inline int pingroll_mhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/// Connections a daemon holds now (its own count; 0 when the daemon cannot say).
static inline unsigned int pingroll_mhd_connection_count(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info == NULL ? 0 : info->num_connections;
}

/// Whether this libmicrohttpd was built with TLS (GnuTLS).
static inline int pingroll_mhd_supports_tls(void) {
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

/// libmicrohttpd answers some malformed requests itself (a broken chunk size, an impossible
/// Content-Length, an oversized or malformed head on a kept-alive connection) with a body that
/// is a string constant compiled into the library: HTML. No option changes it, so at start the
/// server rewrites those constants in this process's copy of the library (copy-on-write pages,
/// the file is untouched) with pingroll's JSON error of exactly the same length, padded with
/// spaces. `pairs` is {html, json, html, json, ...} with equal lengths; returns how many of the
/// `count` pairs were found and rewritten (a different libmicrohttpd may have other texts: the
/// caller logs what was not).
static inline char *pingroll_find(char *start, size_t length, const char *needle, size_t n) {
    if (n == 0 || length < n) return NULL;
    for (size_t i = 0; i + n <= length; i++) {
        if (start[i] == needle[0] && memcmp(start + i, needle, n) == 0) return start + i;
    }
    return NULL;
}

static inline int pingroll_mhd_rewrite_error_bodies(const char *const *pairs, int count) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (maps == NULL) return 0;
    long page = sysconf(_SC_PAGESIZE);
    int done = 0;
    char line[4096];
    while (fgets(line, sizeof line, maps) != NULL) {
        unsigned long from, to;
        char perms[5] = {0};
        if (strstr(line, "libmicrohttpd") == NULL) continue;
        if (sscanf(line, "%lx-%lx %4s", &from, &to, perms) != 3) continue;
        if (perms[0] != 'r' || perms[1] == 'w') continue;
        int protection = PROT_READ | (perms[2] == 'x' ? PROT_EXEC : 0);
        for (int i = 0; i < count; i++) {
            const char *html = pairs[2 * i], *json = pairs[2 * i + 1];
            size_t n = strlen(html);
            if (strlen(json) != n) continue;
            /* with its NUL: the whole constant, not the head of a longer one */
            char *at = pingroll_find((char *)from, (size_t)(to - from), html, n + 1);
            if (at == NULL) continue;
            char *first = (char *)((uintptr_t)at & ~(uintptr_t)(page - 1));
            size_t span = (size_t)(at + n - first);
            if (mprotect(first, span, PROT_READ | PROT_WRITE) != 0) continue;
            memcpy(at, json, n);
            mprotect(first, span, protection);
            done++;
        }
    }
    fclose(maps);
    return done;
}
