/* ferry ssh: a shell on the instance (or the --host), or one command with its exit status. */
#include <unistd.h>

#include "ferry-builtins.h"
#include "core/remote.h"
#include "core/spawn.h"

static char *opt_host;

static const GOptionEntry options[] = {
  { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host, "Connect to this host instead of the instance (no AWS)", "[USER@]HOST" },
  { NULL }
};

gboolean
ferry_builtin_ssh (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("[-- COMMAND...]");
  g_autoptr(FerryRemote) remote = NULL;
  g_autofree char *command = NULL;
  g_auto(GStrv) ssh_argv = NULL;
  char **words = NULL;
  gboolean ok;
  int status = 0;

  g_option_context_set_summary (context, "Open a shell on the instance (or on --host), or run one command there;\n"
                                         "the command's exit status is ferry's.");
  /* What follows `--` is the remote command, untouched by option parsing. */
  words = ferry_split_double_dash (&argc, argv);
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c, error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error, "unexpected argument \"%s\": put the command after -- (see ferry ssh --help)",
                              argv[1]);
  if (!ferry_invocation_open_state (inv, TRUE, FALSE, error))
    return FALSE;
  remote = ferry_remote_open (inv->state, opt_host, inv->ssh_user, (const char *const *) inv->ssh_options,
                              error);
  if (remote == NULL)
    return FALSE;
  remote->verbose = inv->verbose;
  remote->log = ferry_print_log;
  remote->log_data = inv;
  if (words != NULL && words[0] != NULL)
    command = ferry_remote_quote_argv ((const char *const *) words);
  ssh_argv = ferry_remote_ssh_argv (remote, command == NULL && isatty (STDIN_FILENO), command);
  if (inv->dry_run)
    {
      g_autofree char *shown = ferry_argv_display ((const char *const *) ssh_argv);
      g_print ("%s\n", shown);
      return TRUE;
    }
  if (inv->verbose)
    {
      g_autofree char *shown = ferry_argv_display ((const char *const *) ssh_argv);
      g_printerr ("%s\n", shown);
    }
  ok = ferry_spawn_inherit ((const char *const *) ssh_argv, NULL, &status, c, error);
  ferry_remote_close (remote);
  if (!ok)
    return FALSE;
  if (status == 255)
    return ferry_throw (error, FERRY_ERROR_CHILD,
                        "cannot connect to %s over ssh (see the message above; ferry status shows the instance)",
                        remote->host);
  inv->exit_status = status;
  return TRUE;
}
