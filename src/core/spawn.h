/* Children as argv vectors through GSubprocess: capture and stream (running several at once is pool.h's). */
#pragma once

#include "ferry-common.h"

G_BEGIN_DECLS

/* For display only (dry-run, -v): each element through g_shell_quote, joined by spaces. Never executed. */
char *ferry_argv_display (const char *const *argv);

/* Starts argv. env is a NULL-terminated list of "KEY=VALUE" set for the child (may be NULL).
 * A missing executable becomes "NAME is not installed (not found on PATH)". */
GSubprocess *ferry_spawn_start (const char *const *argv, const char *const *env, GSubprocessFlags flags,
                                GError **error);

/* Runs argv to completion, feeding stdin_data (or /dev/null) and capturing both outputs.
 * Returns FALSE only when the child could not run at all; the wait status is in *out_status. */
gboolean ferry_spawn_capture (const char *const *argv, const char *const *env, const char *stdin_data,
                              char **out_stdout, char **out_stderr, int *out_status,
                              GCancellable *cancellable, GError **error);

/* As ferry_spawn_capture, but a non-zero exit is an error carrying the child's stderr. */
gboolean ferry_spawn_check (const char *const *argv, const char *const *env, const char *stdin_data,
                            char **out_stdout, GCancellable *cancellable, GError **error);

/* Runs argv with stdin, stdout and stderr inherited (live output). The exit status is in *out_exit
 * (128+signal when killed). Returns FALSE only when the child could not run. */
gboolean ferry_spawn_inherit (const char *const *argv, const char *const *env, int *out_exit,
                              GCancellable *cancellable, GError **error);

/* Sets *error (FERRY_ERROR_CHILD) from a finished child's wait status and stderr, and returns FALSE;
 * returns TRUE when the status is success. */
gboolean ferry_spawn_status_check (const char *const *argv, int wait_status, const char *child_stderr,
                                   GError **error);



G_END_DECLS
