/* ferry teardown: delete everything ferry created for this name, so nothing is left billing. */
#include "ferry-builtins.h"

#include "core/teardown.h"

static gboolean opt_force;

static const GOptionEntry options[] = { { "force", 0, 0, G_OPTION_ARG_NONE, &opt_force,
                                          "Empty a non-empty bucket and delete it too", NULL },
                                        { NULL } };

static void
print_progress (const char *message, gpointer user_data)
{
  g_print ("%s\n", message);
}

gboolean
ferry_builtin_teardown (int argc, char **argv, FerryInvocation *inv, GCancellable *c,
                        GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(FerryTeardown) td = NULL;
  g_autoptr(GPtrArray) plan = NULL;
  guint n_delete = 0;

  g_option_context_set_summary (
      context,
      "Delete everything ferry created for this deployment, in reverse dependency order:\n"
      "the instance (waited for until terminated), its security group, the key pair and\n"
      "its pem, the instance profile, role and policy, the SNS topic of run --notify, the\n"
      "bucket (only if empty, unless --force; then the plan says what its store holds),\n"
      "the VPC only if ferry created it, and last the budget. Resources are found from the\n"
      "state and by the ferry:name tag, so a lost state still cleans up (but the budget,\n"
      "which carries no tag); nothing without the tag or a state record is touched.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry teardown --help)", argv[1]);
  if (!ferry_invocation_open_state (inv, FALSE, TRUE, error)
      || !ferry_invocation_use_aws (inv, c, error))
    return FALSE;

  td = ferry_teardown_new (inv->aws, inv->state);
  ferry_teardown_set_force (td, opt_force);
  ferry_teardown_set_log (td, print_progress, inv);
  plan = ferry_teardown_plan (td, c, error);
  if (plan == NULL)
    return FALSE;

  for (guint i = 0; i < plan->len; i++)
    if (!((FerryFound *) plan->pdata[i])->keep)
      n_delete++;
  if (plan->len == 0)
    g_print (
        "nothing to delete: no resource of deployment %s in the state or tagged ferry:name=%s\n",
        inv->name, inv->name);
  else
    {
      g_print ("teardown of deployment %s:\n", inv->name);
      for (guint i = 0; i < plan->len; i++)
        {
          g_autofree char *line = ferry_teardown_item_describe (plan->pdata[i]);
          g_print ("  %s\n", line);
        }
    }
  /* What the bucket's store holds goes with the bucket (and only with --force). Said where it is
   * news: with --force, before it goes, and in a dry run; a teardown without --force keeps a bucket
   * that is not empty and says so, and is spared the listing (an aws process). */
  for (guint i = 0; (opt_force || inv->dry_run) && i < plan->len; i++)
    {
      FerryFound *f = plan->pdata[i];
      if (g_str_equal (f->kind, FERRY_KIND_BUCKET) && ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET))
        {
          g_autofree char *store = ferry_store_summary (inv, NULL, c);
          if (store != NULL)
            g_print ("  the store in %s%s\n", store,
                     f->keep || !opt_force ? " (kept unless --force, with a bucket that is not empty)"
                                           : " (deleted with the bucket)");
        }
    }
  if (n_delete > 0 && !inv->dry_run)
    {
      g_autofree char *prompt
          = g_strdup_printf ("Delete %s%u resource%s?", n_delete == 1 ? "this " : "these ",
                             n_delete, n_delete == 1 ? "" : "s");
      if (!ferry_confirm (inv, prompt))
        return ferry_throw (error, FERRY_ERROR_FAILED, "not confirmed; nothing was deleted");
    }

  if (!ferry_teardown_execute (td, plan, c, error))
    return FALSE;
  if (inv->dry_run)
    g_print ("dry run: nothing was deleted\n");
  else if (n_delete > 0)
    g_print ("teardown done: nothing ferry created for %s is left\n", inv->name);
  return TRUE;
}
