/* ferry ls: every resource tagged ferry:name in the region, and whether any of it bills. */
#include "ferry-builtins.h"
#include "core/pricing.h"
#include "core/teardown.h"

static gboolean opt_all;

static const GOptionEntry options[]
    = { { "all", 0, 0, G_OPTION_ARG_NONE, &opt_all,
          "List the resources of every ferry name, not only --name's", NULL },
        { NULL } };

static const char *
or_dash (const char *s)
{
  return s != NULL && *s != '\0' ? s : "-";
}

static void
print_note (const char *message, gpointer user_data)
{
  g_print ("%s\n", message);
}

/* What the instances have cost since they started (at the on-demand rate: ls does not know a spot
 * instance's zone), and the volumes a month. */
static void
print_costs (FerryInvocation *inv, GPtrArray *found, GCancellable *c)
{
  g_autoptr(FerryPriceBook) book = ferry_price_book_new (inv->aws, inv->aws->region);

  for (guint i = 0; i < found->len; i++)
    {
      FerryFound *f = found->pdata[i];
      g_autofree char *line = NULL;

      if (g_str_equal (f->kind, FERRY_KIND_INSTANCE))
        line = ferry_plan_cost_line (book, f->detail, FALSE, NULL, f->created_at, f->state, 0, NULL, c);
      else if (g_str_equal (f->kind, FERRY_KIND_VOLUME) && f->size_gb > 0)
        {
          const char *why = NULL;
          double gb_month = ferry_price_book_gp3 (book, &why, c);
          g_autofree char *month = ferry_format_usd (gb_month >= 0 ? gb_month * (double) f->size_gb : -1);
          line = g_strdup_printf ("%" G_GINT64_FORMAT " GB: %s a month as gp3", f->size_gb, month);
        }
      if (line != NULL)
        g_print ("cost of %s %s: %s\n", ferry_kind_label (f->kind), f->id, line);
    }
}

gboolean
ferry_builtin_ls (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) state_error = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *summary = NULL;
  const char *region;
  FerryBill bill = { 0 };
  int w[5] = { 4, 2, 4, 10, 5 };

  g_option_context_set_summary (
      context, "List every resource tagged ferry:name=NAME (with --all, any name) in the region:\n"
               "instances, volumes, security groups, key pairs, VPCs, buckets, roles and instance\n"
               "profiles, with their state and age, then say what of it bills.");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error, "unexpected argument \"%s\" (see ferry ls --help)",
                              argv[1]);
  /* The state only lends its settings (endpoint, region); another name's state is no obstacle. */
  if (!ferry_invocation_open_state (inv, FALSE, FALSE, &state_error)
      && !g_error_matches (state_error, FERRY_ERROR, FERRY_ERROR_CONFIG))
    {
      g_propagate_error (error, g_steal_pointer (&state_error));
      return FALSE;
    }

  if (!ferry_invocation_use_aws (inv, c, error))
    return FALSE;
  found = ferry_discover (inv->aws, inv->state, opt_all ? NULL : inv->name, print_note, NULL, c,
                          error);
  if (found == NULL)
    return FALSE;
  now = g_date_time_new_now_utc ();
  region = inv->region;

  if (found->len == 0)
    {
      if (opt_all)
        g_print ("nothing tagged ferry:name in %s: nothing ferry made is billing there\n",
                 region);
      else
        g_print ("nothing tagged ferry:name=%s in %s: nothing of it is billing there (ferry ls "
                 "--all shows other names)\n",
                 inv->name, region);
      return TRUE;
    }

  for (guint i = 0; i < found->len; i++)
    {
      FerryFound *f = found->pdata[i];
      w[0] = MAX (w[0], (int) strlen (ferry_kind_label (f->kind)));
      w[1] = MAX (w[1], (int) strlen (f->id));
      w[2] = MAX (w[2], (int) strlen (or_dash (f->aws_name)));
      w[3] = MAX (w[3], (int) strlen (or_dash (f->owner)));
      w[4] = MAX (w[4], (int) strlen (or_dash (f->state)));
    }
  g_print ("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], "KIND", w[1], "ID", w[2], "NAME", w[3],
           "FERRY:NAME", w[4], "STATE", "AGE");
  for (guint i = 0; i < found->len; i++)
    {
      FerryFound *f = found->pdata[i];
      g_autofree char *age = ferry_format_age (f->created_at, now);

      g_print ("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], ferry_kind_label (f->kind), w[1], f->id,
               w[2], or_dash (f->aws_name), w[3], or_dash (f->owner), w[4], or_dash (f->state),
               age);
      ferry_bill_add (&bill, f);
    }
  print_costs (inv, found, c);
  if (!opt_all && ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET))
    {
      g_autofree char *store = ferry_store_summary (inv, NULL, c);
      if (store != NULL)
        g_print ("store in %s\n", store);
    }
  summary = ferry_bill_describe (&bill);
  g_print ("%u resource%s in %s; %s\n", found->len, found->len == 1 ? "" : "s",
           region, summary);
  if (bill.running_instances + bill.stopped_instances + bill.volumes + bill.buckets > 0)
    {
      if (opt_all)
        g_print ("to remove a deployment: ferry teardown --name NAME\n");
      else
        {
          /* --name only where the state dir does not already name this deployment. */
          const char *kept = inv->layers.layer[FERRY_LAYER_STATE].name;
          gboolean implied = g_strcmp0 (kept, inv->name) == 0
                             || (kept == NULL && g_str_equal (inv->name, "ferry"));
          g_print ("to remove it all: ferry teardown%s%s\n", implied ? "" : " --name ",
                   implied ? "" : inv->name);
        }
    }
  return TRUE;
}
