/* ferry terminate: terminate the instance (its volume goes with it) and forget it. */
#include "ferry-builtins.h"
#include "core/instance.h"

static gboolean opt_no_wait;

static const GOptionEntry options[] = { { "no-wait", 0, 0, G_OPTION_ARG_NONE, &opt_no_wait,
                                          "Do not wait for the instance to be terminated", NULL },
                                        { NULL } };

gboolean
ferry_builtin_terminate (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                         GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;
  g_autofree char *prompt = NULL;

  g_option_context_set_summary (
      context, "Terminate the deployment's instance; its root volume and everything on it are\n"
               "deleted. The other resources stay (ferry bootstrap launches a new instance,\n"
               "ferry teardown removes everything).");
  id = ferry_builtin_instance_open (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                    error);
  if (id == NULL)
    return FALSE;
  prompt = g_strdup_printf ("Terminate instance %s? Its disk is deleted with it.", id);
  if (!inv->dry_run && !ferry_confirm (inv, prompt))
    return ferry_throw (error, FERRY_ERROR_FAILED, "not confirmed; instance %s is left as it is",
                        id);
  if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_TERMINATE, !opt_no_wait, 900,
                              &instance, c, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  if (opt_no_wait)
    g_print ("terminating instance %s\n", id);
  else
    g_print ("terminated instance %s (ferry bootstrap launches a new one; ferry teardown removes "
             "the rest)\n",
             id);
  return TRUE;
}
