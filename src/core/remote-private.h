/* What remote.c shares with remote-run.c: starting ssh, reading its stderr, and telling a lost
 * connection from a failed command. Not for builtins. */
#pragma once

#include "remote.h"

G_BEGIN_DECLS

/* Starts ssh running `command` (a /bin/sh script) with stderr in an unlinked temp file (its fd in
 * *out_stderr_fd, read back with ferry_remote_read_stderr). own_group: a process group of its own,
 * so a Ctrl-C at the terminal reaches ferry only. */
GSubprocess *ferry_remote_spawn_full (FerryRemote *remote, gboolean tty, gboolean own_group,
                                      const char *command, GSubprocessFlags flags,
                                      int *out_stderr_fd, GError **error);

/* Runs one remote command (in a process group of its own with own_group), feeding `input` and
 * collecting stdout, the exit code and all of stderr. FALSE only when ssh could not be run or the
 * wait was cancelled; a lost connection is exit 255, for the caller to judge. */
gboolean ferry_remote_exchange (FerryRemote *remote, gboolean own_group, const char *command,
                                GBytes *input, GBytes **out_stdout, int *out_exit, char **out_stderr,
                                GCancellable *cancellable, GError **error);
/* Reads and closes the stderr file. */
char *ferry_remote_read_stderr (int fd);
/* The last non-empty line of a child's stderr. */
char *ferry_remote_last_line (const char *text);
/* USER@HOST for messages. */
char *ferry_remote_display (FerryRemote *remote);
/* FALSE with "cannot connect to HOST over ssh: ..." when ssh exited 255. */
gboolean ferry_remote_check_connection (FerryRemote *remote, int exit_code, const char *err,
                                        GError **error);
/* SIGTERM to the child once the cancellable is cancelled (from any thread); 0 without one. */
gulong ferry_remote_kill_on_cancel (GSubprocess *proc, GCancellable *cancellable);
/* Disconnects, reaps the child (stopping it if the wait is cancelled); FALSE when cancelled. */
gboolean ferry_remote_child_finish (GSubprocess *proc, GCancellable *cancellable, gulong cancel_id,
                                    GError **error);
/* The exit status, or 128+signal. */
int ferry_remote_exit_code (int wait_status);

G_END_DECLS
