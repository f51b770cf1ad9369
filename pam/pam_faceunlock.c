/*
 * pam_faceunlock.so — a thin PAM client of the faceunlock daemon (docs/protocol.md, docs/decisions/012-pam.md).
 *
 * Why C and so little of it: this code runs inside sudo, polkit agents and every screen locker. No interpreter,
 * no threads, no signal handlers, no global state; one Unix-socket round trip bounded by a deadline.
 *
 * The exchange (one request per connection, lines <= 1024 bytes):
 *   -> AUTH 1 <user>\n
 *   <- INFO <text>\n ... then exactly one of OK / FAIL / IGNORE / UNAVAIL / DENIED <text>\n, then close.
 *
 * Results: OK -> PAM_SUCCESS; FAIL, DENIED -> PAM_AUTH_ERR; IGNORE, remote session -> PAM_IGNORE; daemon down,
 * busy, UNAVAIL, timeout, garbled answer, wrong socket owner -> PAM_AUTHINFO_UNAVAIL; bad module arguments ->
 * PAM_SERVICE_ERR. The module is meant to be "sufficient" (or [success=end default=ignore]): every non-success
 * falls through to the password.
 *
 * Arguments: socket=PATH (default /run/faceunlock/faceunlockd.sock), timeout=SECONDS (default 3, decimals allowed,
 * 0.1..60), owner=UID|NAME (the account the daemon runs as; default root; root itself is always accepted),
 * services=NAME,NAME,... (offer the face only to these PAM services, e.g. sudo,polkit-1,swaylock: the installed
 * profile sits in common-auth, which login managers include too, and a face login leaves the keyring locked; without
 * it every service that runs the module is offered the face), quiet (no conversation messages), debug (syslog).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define FU_EXPORT __attribute__((visibility("default")))

#define DEFAULT_SOCKET "/run/faceunlock/faceunlockd.sock"
#define DEFAULT_TIMEOUT_MS 3000
#define MAX_LINE 1024         /* protocol limit, newline included */
#define MAX_USER 256          /* longer names are not OS account names */
#define MAX_INFO_SHOWN 4      /* daemon INFO lines forwarded to the conversation per attempt */
#define LOOKING_MSG "Looking for your face\u2026 (or type your password)"

struct options {
    const char *socket_path;
    long timeout_ms;
    uid_t owner;
    const char *services; /* comma-separated allow-list, NULL = any */
    int quiet;
    int debug;
};

/* ---------------------------------------------------------------- small helpers */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline)
{
    long long left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

static int parse_uid(pam_handle_t *pamh, const char *value, uid_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(value, &end, 10);
    if (*value != '\0' && end && *end == '\0' && errno == 0 && value[0] != '-') {
        if (n > (unsigned long)(uid_t)-2)
            return -1;
        *out = (uid_t)n;
        return 0;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(value, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
        pam_syslog(pamh, LOG_ERR, "owner=%s: no such user", value);
        return -1;
    }
    *out = pw.pw_uid;
    return 0;
}

static int parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *o)
{
    o->socket_path = DEFAULT_SOCKET;
    o->timeout_ms = DEFAULT_TIMEOUT_MS;
    o->owner = 0;
    o->services = NULL;
    o->quiet = 0;
    o->debug = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "socket=", 7) == 0) {
            o->socket_path = a + 7;
            if (o->socket_path[0] != '/' || strlen(o->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                pam_syslog(pamh, LOG_ERR, "socket=%s: must be an absolute path shorter than %zu bytes",
                           o->socket_path, sizeof(((struct sockaddr_un *)0)->sun_path));
                return -1;
            }
        } else if (strncmp(a, "timeout=", 8) == 0) {
            char *end = NULL;
            errno = 0;
            double s = strtod(a + 8, &end);
            if (a[8] == '\0' || *end != '\0' || errno != 0 || !(s >= 0.1 && s <= 60.0)) {
                pam_syslog(pamh, LOG_ERR, "%s: timeout must be between 0.1 and 60 seconds", a);
                return -1;
            }
            o->timeout_ms = (long)(s * 1000.0 + 0.5);
        } else if (strncmp(a, "owner=", 6) == 0) {
            if (parse_uid(pamh, a + 6, &o->owner) != 0) {
                pam_syslog(pamh, LOG_ERR, "%s: not a user name or uid", a);
                return -1;
            }
        } else if (strncmp(a, "services=", 9) == 0) {
            o->services = a + 9;
        } else if (strcmp(a, "quiet") == 0) {
            o->quiet = 1;
        } else if (strcmp(a, "debug") == 0) {
            o->debug = 1;
        } else {
            pam_syslog(pamh, LOG_ERR, "unknown argument: %s", a);
            return -1;
        }
    }
    return 0;
}

/* A text line from the daemon is shown to the user: keep printable ASCII and UTF-8 bytes, drop controls. */
static void sanitize(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        unsigned char c = (unsigned char)*r;
        if (c >= 0x20 && c != 0x7f)
            *w++ = (char)c;
    }
    *w = '\0';
}

static void say(pam_handle_t *pamh, const struct options *o, const char *text)
{
    if (o->quiet || text == NULL || *text == '\0')
        return;
    /* pam_info goes through the application's conversation (sudo prints it, GDM shows it under the prompt). */
    pam_info(pamh, "%s", text);
}

static int valid_user(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > MAX_USER || u[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c <= 0x20 || c == 0x7f || c == '/' || c == ':')
            return 0;
    }
    return 1;
}

static int is_local_host(const char *h)
{
    return h == NULL || *h == '\0' || strcmp(h, "localhost") == 0 || strcmp(h, "127.0.0.1") == 0 ||
           strcmp(h, "::1") == 0 || strcmp(h, "localhost.localdomain") == 0;
}

static int service_allowed(pam_handle_t *pamh, const struct options *o, const char **name)
{
    const void *svc = NULL;
    *name = "";
    if (o->services == NULL)
        return 1;
    if (pam_get_item(pamh, PAM_SERVICE, &svc) != PAM_SUCCESS || svc == NULL)
        return 0;
    *name = (const char *)svc;
    size_t n = strlen(*name);
    for (const char *p = o->services; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && n > 0 && strncmp(p, *name, n) == 0)
            return 1;
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

/* A remote session: the camera in front of the machine belongs to whoever sits there, not to the remote caller. */
static const char *remote_reason(pam_handle_t *pamh)
{
    const void *rhost = NULL;
    if (pam_get_item(pamh, PAM_RHOST, &rhost) == PAM_SUCCESS && !is_local_host((const char *)rhost))
        return "PAM_RHOST is set";
    const void *tty = NULL;
    if (pam_get_item(pamh, PAM_TTY, &tty) == PAM_SUCCESS && tty && strncmp((const char *)tty, "ssh", 3) == 0)
        return "PAM_TTY is ssh";
    /* sudo inside an SSH login does not set PAM_RHOST; its environment still says SSH. A caller could unset these
     * to get the face offered, but then it must also be in front of the camera; setting them only turns it off. */
    static const char *const vars[] = {"SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = pam_getenv(pamh, vars[i]);
        if ((v && *v) || ((v = getenv(vars[i])) && *v))
            return "an SSH session";
    }
    return NULL;
}

/* ---------------------------------------------------------------- the socket */

/* The path must be a socket (not a symlink) owned by the daemon's account, in a directory only it or root can
 * change. This is a first screen; SO_PEERCRED below is what proves who answers. */
static int check_socket_path(pam_handle_t *pamh, const struct options *o)
{
    struct stat st;
    if (lstat(o->socket_path, &st) != 0) {
        int e = errno;
        if (e != ENOENT)
            pam_syslog(pamh, LOG_ERR, "%s: %s (this caller cannot reach the daemon's socket)", o->socket_path,
                       strerror(e));
        return e == ENOENT ? -ENOENT : -EIO;
    }
    if (!S_ISSOCK(st.st_mode)) {
        pam_syslog(pamh, LOG_ERR, "%s is not a socket; not asking it", o->socket_path);
        return -EPERM;
    }
    if (st.st_uid != o->owner && st.st_uid != 0) {
        pam_syslog(pamh, LOG_ERR, "%s belongs to uid %u, not the daemon's uid %u; not trusting it", o->socket_path,
                   (unsigned)st.st_uid, (unsigned)o->owner);
        return -EPERM;
    }
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof dir, "%s", o->socket_path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    struct stat ds;
    if (stat(dir, &ds) != 0 || (ds.st_uid != o->owner && ds.st_uid != 0) ||
        ((ds.st_mode & (S_IWGRP | S_IWOTH)) && !(ds.st_mode & S_ISVTX))) {
        pam_syslog(pamh, LOG_ERR, "%s: its directory may be changed by others than uid %u or root; not trusting it",
                   o->socket_path, (unsigned)o->owner);
        return -EPERM;
    }
    return 0;
}

/* Connect within the deadline. Returns fd >= 0, or -1 (down / busy / refused: the caller says UNAVAIL). */
static int connect_daemon(pam_handle_t *pamh, const struct options *o, long long deadline)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        pam_syslog(pamh, LOG_ERR, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", o->socket_path);
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        for (;;) {
            int left = remaining_ms(deadline);
            if (left == 0) {
                errno = ETIMEDOUT;
                break;
            }
            rc = poll(&p, 1, left);
            if (rc < 0 && errno == EINTR)
                continue;
            if (rc > 0) {
                int err = 0;
                socklen_t len = sizeof err;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
                    rc = 0;
                    break;
                }
                errno = err ? err : EIO;
            } else if (rc == 0) {
                errno = ETIMEDOUT;
            }
            rc = -1;
            break;
        }
    }
    if (rc != 0) {
        /* EAGAIN: the listen backlog is full, the daemon is busy; ECONNREFUSED/ENOENT: nobody listens. */
        pam_syslog(pamh, o->debug ? LOG_NOTICE : LOG_INFO, "cannot reach the daemon at %s: %s", o->socket_path,
                   strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int check_peer(pam_handle_t *pamh, const struct options *o, int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
        pam_syslog(pamh, LOG_ERR, "SO_PEERCRED on %s: %s", o->socket_path, strerror(errno));
        return -1;
    }
    if (cred.uid != o->owner && cred.uid != 0) {
        pam_syslog(pamh, LOG_ERR, "%s is served by uid %u (pid %d), not the daemon's uid %u; not trusting it",
                   o->socket_path, (unsigned)cred.uid, (int)cred.pid, (unsigned)o->owner);
        return -1;
    }
    return 0;
}

static int send_all(int fd, const char *buf, size_t n, long long deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w > 0) {
            buf += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int left = remaining_ms(deadline);
            if (left == 0)
                return -1;
            if (poll(&p, 1, left) < 0 && errno != EINTR)
                return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

enum line_status { LINE_OK, LINE_EOF, LINE_TIMEOUT, LINE_ERROR, LINE_TOO_LONG };

struct reader {
    char buf[MAX_LINE + 1];
    size_t len;
};

/* Read one '\n'-terminated line into `out` (without the newline) before the deadline. */
static enum line_status read_line(int fd, struct reader *r, char *out, long long deadline)
{
    for (;;) {
        char *nl = memchr(r->buf, '\n', r->len);
        if (nl) {
            size_t n = (size_t)(nl - r->buf);
            memcpy(out, r->buf, n);
            out[n] = '\0';
            r->len -= n + 1;
            memmove(r->buf, nl + 1, r->len);
            if (strlen(out) != n)
                return LINE_ERROR; /* a NUL inside a line */
            if (n > 0 && out[n - 1] == '\r')
                out[n - 1] = '\0';
            return LINE_OK;
        }
        if (r->len >= MAX_LINE)
            return LINE_TOO_LONG;
        int left = remaining_ms(deadline);
        if (left == 0)
            return LINE_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, left);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            return LINE_ERROR;
        }
        if (rc == 0)
            return LINE_TIMEOUT;
        ssize_t got = recv(fd, r->buf + r->len, MAX_LINE - r->len, 0);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return LINE_ERROR;
        }
        if (got == 0)
            return LINE_EOF;
        r->len += (size_t)got;
    }
}

/* ---------------------------------------------------------------- the PAM entry points */

static int ask_daemon(pam_handle_t *pamh, const struct options *o, const char *user)
{
    long long start = now_ms();
    long long deadline = start + o->timeout_ms;

    int prc = check_socket_path(pamh, o);
    if (prc == -ENOENT) {
        pam_syslog(pamh, LOG_INFO, "no daemon socket at %s; password only", o->socket_path);
        return PAM_AUTHINFO_UNAVAIL;
    }
    if (prc != 0)
        return PAM_AUTHINFO_UNAVAIL;

    int fd = connect_daemon(pamh, o, deadline);
    if (fd < 0)
        return PAM_AUTHINFO_UNAVAIL;
    if (check_peer(pamh, o, fd) != 0) {
        close(fd);
        return PAM_AUTHINFO_UNAVAIL;
    }

    char req[MAX_LINE];
    int n = snprintf(req, sizeof req, "AUTH 1 %s\n", user);
    if (n < 0 || (size_t)n >= sizeof req || send_all(fd, req, (size_t)n, deadline) != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot send the request to %s: %s", o->socket_path, strerror(errno));
        close(fd);
        return PAM_AUTHINFO_UNAVAIL;
    }
    struct reader r = {.len = 0};
    char line[MAX_LINE + 1];
    char last_info[MAX_LINE + 1] = LOOKING_MSG;
    int shown = 0, looking = 0;
    int result = PAM_AUTHINFO_UNAVAIL;
    const char *why = "no answer";
    for (;;) {
        enum line_status st = read_line(fd, &r, line, deadline);
        if (st == LINE_TIMEOUT) {
            why = "timed out";
            break;
        }
        if (st != LINE_OK) {
            why = st == LINE_EOF ? "the daemon closed the connection without an answer" : "garbled answer";
            break;
        }
        char *sp = strchr(line, ' ');
        char *text = sp ? sp + 1 : line + strlen(line);
        if (sp)
            *sp = '\0';
        sanitize(text);
        if (strcmp(line, "INFO") == 0) {
            /* The daemon sends INFO once it holds the camera: only then say we are looking (an account without a
             * face, or a busy camera, goes to the password without a misleading message). */
            if (!looking) {
                say(pamh, o, LOOKING_MSG);
                looking = 1;
            }
            /* Forward a few progress lines; skip repeats of what is already on screen. */
            if (shown < MAX_INFO_SHOWN && *text && strcmp(text, last_info) != 0 &&
                strncmp(text, "Looking for your face", 21) != 0) {
                say(pamh, o, text);
                snprintf(last_info, sizeof last_info, "%s", text);
                shown++;
            }
            continue;
        }
        if (strcmp(line, "OK") == 0) {
            result = PAM_SUCCESS;
        } else if (strcmp(line, "FAIL") == 0 || strcmp(line, "DENIED") == 0) {
            result = PAM_AUTH_ERR;
            if (*text)
                say(pamh, o, text);
        } else if (strcmp(line, "IGNORE") == 0) {
            result = PAM_IGNORE;
        } else if (strcmp(line, "UNAVAIL") == 0) {
            result = PAM_AUTHINFO_UNAVAIL;
        } else {
            /* docs/protocol.md: progress words a client does not know are ignored (newer daemons may add some);
             * only the five final words end the exchange, so this can never turn into a success. */
            if (o->debug)
                pam_syslog(pamh, LOG_DEBUG, "ignoring progress word %.32s from %s", line, o->socket_path);
            continue;
        }
        why = text;
        break;
    }
    /* Closing cancels the daemon's attempt (the camera is released), also when we stop at the deadline. */
    close(fd);
    int prio = result == PAM_SUCCESS || result == PAM_AUTH_ERR ? LOG_NOTICE : LOG_INFO;
    pam_syslog(pamh, prio, "face %s for %s after %lld ms: %s",
               result == PAM_SUCCESS    ? "accepted"
               : result == PAM_AUTH_ERR ? "refused"
               : result == PAM_IGNORE   ? "not used"
                                        : "unavailable",
               user, now_ms() - start, why);
    return result;
}

FU_EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct options o;
    if (parse_options(pamh, argc, argv, &o) != 0)
        return PAM_SERVICE_ERR;
    if (flags & PAM_SILENT)
        o.quiet = 1; /* the application asked for no messages */

    const char *service = NULL;
    if (!service_allowed(pamh, &o, &service)) {
        if (o.debug)
            pam_syslog(pamh, LOG_DEBUG, "face not offered to service %s (not in services=)", service);
        return PAM_IGNORE;
    }
    const char *why_remote = remote_reason(pamh);
    if (why_remote) {
        if (o.debug)
            pam_syslog(pamh, LOG_DEBUG, "face not offered: %s", why_remote);
        return PAM_IGNORE;
    }

    const char *user = NULL;
    int rc = pam_get_user(pamh, &user, NULL);
    if (rc != PAM_SUCCESS || user == NULL)
        return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTHINFO_UNAVAIL;
    if (!valid_user(user)) {
        pam_syslog(pamh, LOG_NOTICE, "not asking about an invalid user name");
        return PAM_USER_UNKNOWN;
    }
    return ask_daemon(pamh, &o, user);
}

/* Nothing to set: returning anything but success here broke stacks where pam_deny follows (SYSTEM-NOTES). */
FU_EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
