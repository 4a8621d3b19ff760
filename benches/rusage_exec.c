/* rusage_exec PROGRAM [ARGS...] — runs PROGRAM (output to /dev/null) and
 * prints its peak RSS in KiB (wait4's ru_maxrss) and its exit status.
 *
 * benches/startup.py's RSS column. Not measured from Python directly: a
 * child of Python starts from Python's memory (posix_spawn's vfork shares
 * it, fork copies it), and Linux keeps that high-water mark across exec,
 * so every program would report at least Python's ~15 MB. Forked from this
 * small program instead, the figure is the program's own. */
#define _DEFAULT_SOURCE /* wait4 under -std=c11 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rusage_exec PROGRAM [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("rusage_exec: fork");
        return 2;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("rusage_exec: wait4");
        return 2;
    }
    printf("%ld %d\n", ru.ru_maxrss,
           WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
