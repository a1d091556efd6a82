/*
 * isola-logger: a containerd "binary://" log driver that keeps stdout and stderr apart. containerd-shim-runc-v2
 * starts it with fd 3 = the container's stdout pipe, fd 4 = its stderr pipe and fd 5 = a pipe to close once ready,
 * passing the URI's query as arguments: "stdout PATH stderr PATH" (in any order). containerd 1.6's own file://
 * scheme sends both streams to the stdout file, hence this. Built static beside isola-pause.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t terminating;

static void on_term(int sig)
{
    (void)sig;
    terminating = 1;
}

static int write_all(int fd, const char *buf, ssize_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, (size_t)len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

/* Copies what is readable now; returns 0 at EOF (or a read error), 1 while the pipe stays open. */
static int pump(int in, int out)
{
    char buf[65536];
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 1 : 0;
    if (n == 0)
        return 0;
    write_all(out, buf, n);
    return 1;
}

int main(int argc, char **argv)
{
    const char *stdout_path = NULL, *stderr_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "stdout") == 0)
            stdout_path = argv[i + 1];
        else if (strcmp(argv[i], "stderr") == 0)
            stderr_path = argv[i + 1];
    }
    if (stdout_path == NULL || stderr_path == NULL) {
        fprintf(stderr, "usage: isola-logger stdout PATH stderr PATH (fds 3, 4 and 5 from containerd)\n");
        return 2;
    }

    int out = open(stdout_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    int err = open(stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out < 0 || err < 0) {
        perror("isola-logger: open");
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    close(5); /* ready: the shim starts the container once this end closes */

    struct pollfd fds[2] = {{.fd = 3, .events = POLLIN}, {.fd = 4, .events = POLLIN}};
    int targets[2] = {out, err};
    int open_pipes = 2;
    while (open_pipes > 0) {
        /* After SIGTERM (the shim is closing the container's IO) only what is already buffered is copied. */
        int ready = poll(fds, 2, terminating ? 0 : -1);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(fds[i].fd, targets[i])) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_pipes--;
            }
        }
    }
    return 0;
}
