/* ferry stop: stop the instance; its volume (and only that) keeps billing. */
#include "ferry-builtins.h"
#include "core/instance.h"

static gboolean opt_no_wait;

static const GOptionEntry options[] = { { "no-wait", 0, 0, G_OPTION_ARG_NONE, &opt_no_wait,
                                          "Do not wait for the instance to be stopped", NULL },
                                        { NULL } };

gboolean
ferry_builtin_stop (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;

  g_option_context_set_summary (
      context, "Stop the deployment's instance. Compute stops billing; its volume still bills.\n"
               "`ferry start` resumes it, with a new address.");
  id = ferry_builtin_instance_open (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                    error);
  if (id == NULL)
    return FALSE;
  if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_STOP, !opt_no_wait, 900,
                              &instance, c, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  if (instance != NULL)
    g_print ("stopped instance %s; its volume still bills (ferry start resumes it, ferry terminate "
             "ends it)\n",
             id);
  else
    g_print ("stopping instance %s\n", id);
  return TRUE;
}
