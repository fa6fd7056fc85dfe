/* ferry start: start the stopped instance again and record its new address. */
#include "ferry-builtins.h"
#include "core/instance.h"

static gboolean opt_no_wait;

static const GOptionEntry options[] = { { "no-wait", 0, 0, G_OPTION_ARG_NONE, &opt_no_wait,
                                          "Do not wait for the instance to be running", NULL },
                                        { NULL } };

gboolean
ferry_builtin_start (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(json_t) instance = NULL;
  g_autofree char *id = NULL;
  const char *dns, *ip;

  g_option_context_set_summary (
      context, "Start the deployment's stopped instance, wait until it runs, and record its\n"
               "public address (it changes at every start).");
  id = ferry_builtin_instance_open (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c,
                                    error);
  if (id == NULL)
    return FALSE;
  if (!ferry_instance_change (inv->aws, inv->state, FERRY_INSTANCE_START, !opt_no_wait, 900,
                              &instance, c, error))
    return FALSE;
  if (inv->dry_run)
    return TRUE;
  if (instance == NULL)
    {
      g_print ("starting instance %s (ferry status shows when it runs)\n", id);
      return TRUE;
    }
  dns = json_string_value (json_object_get (instance, "PublicDnsName"));
  ip = json_string_value (json_object_get (instance, "PublicIpAddress"));
  g_print ("instance %s is running at %s%s%s%s\n", id, dns && *dns ? dns : "(no public name)",
           ip ? " (" : "", ip ? ip : "", ip ? ")" : "");
  {
    g_autofree char *hint = ferry_resources_ssh_hint (inv);
    g_print ("connect: %s\n", hint);
  }
  return TRUE;
}
