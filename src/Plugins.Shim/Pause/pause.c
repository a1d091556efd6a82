/*
 * Isola's pause: PID 1 of a pod sandbox. It holds the pod's namespaces open, reaps every child re-parented to it,
 * and exits 0 on SIGINT or SIGTERM. Built static (gcc -static -O2) so its rootfs is a directory holding only it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static void reap(int sig)
{
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int install(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = sig == SIGCHLD ? SA_NOCLDSTOP | SA_RESTART : 0;
    return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("isola-pause 1");
        return 0;
    }
    if (getpid() != 1) {
        fprintf(stderr, "pause: warning: not running as pid 1\n");
    }
    if (install(SIGINT, on_stop) < 0 || install(SIGTERM, on_stop) < 0 || install(SIGCHLD, reap) < 0) {
        perror("pause: sigaction");
        return 1;
    }
    /* Signals stay blocked except inside sigsuspend, so a SIGTERM can never slip in between the check and the wait. */
    sigset_t blocked, waiting;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &blocked, &waiting) < 0) {
        perror("pause: sigprocmask");
        return 1;
    }
    sigdelset(&waiting, SIGINT);
    sigdelset(&waiting, SIGTERM);
    sigdelset(&waiting, SIGCHLD);
    while (!stopping) {
        sigsuspend(&waiting);
    }
    return 0;
}
