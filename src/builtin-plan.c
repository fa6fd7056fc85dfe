/* ferry plan: what a target's jobs need, the cheapest instance types of the region that fit, and
 * what they cost where AWS tells. bootstrap --for launches from the same quote. */
#include "ferry-builtins.h"
#include "core/plan.h"
#include "core/pricing.h"

static gboolean opt_json;
static char *opt_arch;
static gboolean opt_gpu;
static gboolean opt_spot;

static const GOptionEntry options[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print one JSON document", NULL },
  { "arch", 0, 0, G_OPTION_ARG_STRING, &opt_arch,
    "Architecture of the image: x86_64 (default) or arm64 (Graviton)", "x86_64|arm64" },
  { "gpu", 0, 0, G_OPTION_ARG_NONE, &opt_gpu, "Only types with a GPU, even if no job asks for one",
    NULL },
  { "spot", 0, 0, G_OPTION_ARG_NONE, &opt_spot, "Rank by the spot price (types offered as spot)",
    NULL },
  { NULL }
};

/* The first line of a reason, kept short for a table's note. */
char *
ferry_plan_short_reason (const char *text)
{
  g_autofree char *line = g_strdup (text ? text : "no answer");
  char *nl = strchr (line, '\n');

  if (nl != NULL)
    *nl = '\0';
  g_strstrip (line);
  if (g_utf8_strlen (line, -1) > 120)
    {
      g_autofree char *cut = g_utf8_substring (line, 0, 117);
      return g_strconcat (cut, "...", NULL);
    }
  return g_steal_pointer (&line);
}

static char *
format_usd (double usd)
{
  if (usd >= 0 && usd < 0.001)
    return g_strdup_printf ("$%.6f", usd);
  return ferry_format_usd (usd);
}

static char *
format_mib (gint64 mib)
{
  if (mib % 1024 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT " GiB", mib / 1024);
  return g_strdup_printf ("%.1f GiB", (double) mib / 1024);
}

char *
ferry_plan_launch_line (const FerryQuote *q)
{
  const FerryCandidate *c = q->chosen;
  g_autofree char *mem = NULL;
  g_autofree char *hourly = NULL;
  g_autofree char *volume = NULL;
  g_autofree char *worst = NULL;

  if (c == NULL)
    return g_strdup_printf ("launching %s with a %" G_GINT64_FORMAT " GB gp3 volume",
                            q->opts.instance_type ? q->opts.instance_type : "?",
                            q->needs.volume_gb);
  mem = format_mib (c->type->memory_mib);
  hourly = format_usd (ferry_candidate_price (c, q->opts.spot));
  volume = format_usd (ferry_quote_volume_month (q));
  worst = format_usd (ferry_quote_worst_case (q, c));
  return g_strdup_printf ("launching %s (%u vCPUs, %s) with a %" G_GINT64_FORMAT
                          " GB gp3 volume: %s/h %s, volume %s/month; at most %s if it runs until "
                          "the %" G_GINT64_FORMAT " h lifetime cap",
                          c->type->name, c->type->vcpus, mem, q->needs.volume_gb, hourly,
                          q->opts.spot ? "spot" : "on demand", volume, worst, q->opts.max_hours);
}

FerryQuote *
ferry_plan_quote (FerryInvocation *inv, const char *const *targets, const char *const *extra,
                  const FerryQuoteOptions *opts, GCancellable *c, GError **error)
{
  g_autoptr(FerryPlan) plan = ferry_snakemake_plan_remote (targets, extra, c, error);
  FerryNeeds needs;
  const char *cache_dir;

  if (plan == NULL || !ferry_invocation_use_aws (inv, c, error))
    return NULL;
  ferry_needs_from_plan (plan, opts, &needs);
  cache_dir = g_file_test (inv->state_dir, G_FILE_TEST_IS_DIR) ? inv->state_dir : NULL;
  return ferry_quote_compute (inv->aws, cache_dir, &needs, opts, c, error);
}

static void
print_needs (const FerryQuote *q, char **targets)
{
  const FerryNeeds *n = &q->needs;
  g_autofree char *joined = g_strjoinv (" ", targets);
  g_autofree char *inputs = g_format_size (n->input_bytes);
  g_autofree char *disk = g_format_size (n->disk_bytes);
  g_autofree char *push = g_format_size (n->push_bytes);

  g_print ("plan for %s: %u job%s would run\n", joined, n->n_jobs, n->n_jobs == 1 ? "" : "s");
  g_print ("  threads  %u (the most a job asks for)\n", n->jobs.threads);
  if (n->jobs.mem_mb > 0)
    g_print ("  memory   %" G_GINT64_FORMAT " MB asked; a type needs %" G_GINT64_FORMAT
             " MiB (%d %% headroom)\n",
             n->jobs.mem_mb, n->memory_mib, FERRY_PLAN_MEM_HEADROOM);
  else
    g_print ("  memory   no job says (resources: mem_mb=...)\n");
  if (n->disk_from_jobs)
    g_print ("  disk     %s: inputs %s + %" G_GINT64_FORMAT " MB disk_mb of the jobs\n", disk,
             inputs, n->jobs.disk_mb);
  else
    g_print ("  disk     %s: inputs %s, twice over for the outputs (no job gives disk_mb)\n", disk,
             inputs);
  if (n->jobs.runtime_min > 0)
    g_print ("  runtime  %" G_GINT64_FORMAT " min (the longest job)\n", n->jobs.runtime_min);
  if (n->gpus > 0)
    g_print ("  gpus     %u%s\n", n->gpus, n->jobs.nvidia ? " (NVIDIA)" : "");
  g_print ("  push     %s (inputs and workflow files)\n", push);
}

static void
print_quote (const FerryQuote *q)
{
  g_autofree char *volume = format_usd (ferry_quote_volume_month (q));
  int w = 4;

  if (q->types_error != NULL)
    {
      g_autofree char *why = ferry_plan_short_reason (q->types_error);
      g_print ("  volume   gp3, %" G_GINT64_FORMAT " GB\n", q->needs.volume_gb);
      g_print ("instance types: unknown (%s)\n", why);
      return;
    }
  g_print ("  volume   gp3, %" G_GINT64_FORMAT " GB: %s a month\n", q->needs.volume_gb, volume);
  g_print ("%u of %u instance types in %s fit (%s, %s)%s\n", q->n_fitting, q->n_types,
           q->region ? q->region : "the region", q->opts.arch ? q->opts.arch : "x86_64",
           q->opts.spot ? "spot" : "on demand",
           q->candidates->len > 0 ? ", cheapest first:" : "");
  for (guint i = 0; i < q->candidates->len; i++)
    w = MAX (w, (int) strlen (((FerryCandidate *) q->candidates->pdata[i])->type->name));
  if (q->candidates->len > 0)
    g_print ("  %-*s  %5s  %9s  %12s  %-28s  %s\n", w, "TYPE", "VCPUS", "MEMORY", "ON-DEMAND/H",
             "SPOT/H (CHEAPEST ZONE)", "AT MOST");
  for (guint i = 0; i < q->candidates->len; i++)
    {
      FerryCandidate *c = q->candidates->pdata[i];
      g_autofree char *mem = format_mib (c->type->memory_mib);
      g_autofree char *od = format_usd (c->on_demand);
      g_autofree char *sp = format_usd (c->spot);
      g_autofree char *spot = c->spot >= 0 ? g_strdup_printf ("%s (%s)", sp, c->spot_zone) : g_strdup (sp);
      g_autofree char *worst = format_usd (ferry_quote_worst_case (q, c));

      g_print ("  %-*s  %5u  %9s  %12s  %-28s  %s\n", w, c->type->name, c->type->vcpus, mem, od,
               spot, worst);
    }
  if (q->chosen != NULL)
    {
      g_autofree char *worst = format_usd (ferry_quote_worst_case (q, q->chosen));
      g_print ("at most %s if %s runs until the %" G_GINT64_FORMAT " h lifetime cap (ferry "
               "bootstrap --for launches it)\n",
               worst, q->chosen->type->name, q->opts.max_hours);
    }
  {
    g_autofree char *od = q->on_demand_error ? ferry_plan_short_reason (q->on_demand_error) : NULL;
    g_autofree char *sp = q->spot_error ? ferry_plan_short_reason (q->spot_error) : NULL;

    if (q->n_fitting == 0)
      return;
    g_print ("prices: on demand %s%s%s; spot %s%s%s; gp3 %s\n",
             od ? "unknown (" : "from the AWS Pricing API", od ? od : "", od ? ")" : "",
             sp ? "unknown (" : "from describe-spot-price-history", sp ? sp : "", sp ? ")" : "",
             q->gp3_usd_gb_month >= 0 ? "from the AWS Pricing API" : "unknown");
  }
}

static char *
format_uptime (gint64 s)
{
  if (s < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", s / 60);
  if (s < 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h %02" G_GINT64_FORMAT "m", s / 3600, s / 60 % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "d %" G_GINT64_FORMAT "h", s / 86400, s / 3600 % 24);
}

char *
ferry_plan_cost_line (FerryPriceBook *book, const char *type, gboolean spot, const char *zone,
                      GDateTime *launched, const char *state, gint64 volume_gb, json_t **out_json,
                      GCancellable *c)
{
  g_autoptr(GString) s = g_string_new (NULL);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  gboolean running = g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "pending") == 0;
  const char *why = NULL, *why_volume = NULL;
  double hourly = -1, so_far = -1, gb_month = -1, month = -1;
  gint64 uptime = -1;

  if (running)
    {
      hourly = ferry_price_book_hourly (book, type, spot, zone, &why, c);
      if (launched != NULL)
        {
          g_autofree char *up = NULL;
          g_autofree char *so_far_text = NULL;
          g_autofree char *rate = format_usd (hourly);
          g_autofree char *reason = ferry_plan_short_reason (why);

          uptime = MAX (g_date_time_difference (now, launched) / G_TIME_SPAN_SECOND, 0);
          up = format_uptime (uptime);
          if (hourly >= 0)
            so_far = hourly * (double) uptime / 3600.0;
          so_far_text = format_usd (so_far);
          if (hourly >= 0)
            g_string_append_printf (s, "up %s: %s so far at %s/h %s", up, so_far_text, rate,
                                    spot ? "spot" : "on demand");
          else
            g_string_append_printf (s, "up %s: unknown so far (no %s price: %s)", up,
                                    spot ? "spot" : "on-demand", reason);
        }
    }
  else
    g_string_append_printf (s, "%s: no hourly charge", state ? state : "not running");
  if (volume_gb > 0)
    {
      g_autofree char *m = NULL;

      gb_month = ferry_price_book_gp3 (book, &why_volume, c);
      if (gb_month >= 0)
        month = gb_month * (double) volume_gb;
      m = format_usd (month);
      g_string_append_printf (s, "; %" G_GINT64_FORMAT " GB gp3 volume: %s a month", volume_gb, m);
    }
  if (out_json != NULL)
    *out_json = json_pack ("{s:o, s:s, s:o, s:o, s:o, s:o, s:s?}", "hourly_usd",
                           hourly >= 0 ? json_real (hourly) : json_null (), "price",
                           spot ? "spot" : "on-demand", "uptime_s",
                           uptime >= 0 ? json_integer (uptime) : json_null (), "so_far_usd",
                           so_far >= 0 ? json_real (so_far) : json_null (), "volume_gb",
                           volume_gb > 0 ? json_integer (volume_gb) : json_null (),
                           "volume_usd_per_month", month >= 0 ? json_real (month) : json_null (),
                           "unknown_because", why ? why : why_volume);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
ferry_plan_options_check (GOptionContext *context, const char *arch, GError **error)
{
  if (arch != NULL && !g_str_equal (arch, "x86_64") && !g_str_equal (arch, "arm64"))
    return ferry_usage_error (context, error, "--arch takes x86_64 or arm64, not \"%s\"", arch);
  return TRUE;
}

gint64
ferry_plan_max_hours (FerryInvocation *inv, gint64 cli)
{
  g_autoptr(json_t) kept = NULL;

  if (cli != G_MININT64 && cli >= 1)
    return cli;
  kept = ferry_state_dup_setting (inv->state, "max_hours");
  if (json_is_integer (kept) && json_integer_value (kept) >= 1)
    return json_integer_value (kept);
  return FERRY_DEFAULT_MAX_HOURS;
}

gboolean
ferry_builtin_plan (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("TARGET... [-- SNAKEMAKE_ARGS]");
  g_autoptr(GError) state_error = NULL;
  g_autoptr(FerryQuote) q = NULL;
  char **extra = ferry_split_double_dash (&argc, argv);
  FerryQuoteOptions opts = { 0 };

  g_option_context_set_summary (
      context,
      "Say what TARGET's jobs need (threads, memory, disk, runtime, bytes to push), and the\n"
      "cheapest instance types of the region that fit, with their prices where AWS tells them.\n"
      "Of the arguments after --, those that shape the jobs go to snakemake's dry run (--config,\n"
      "--forceall, --cores N for rules whose threads follow --cores; see ferry(1)).");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error,
                              "give a target to plan: ferry plan TARGET... (see ferry plan --help)");
  if (!ferry_plan_options_check (context, opt_arch, error))
    return FALSE;
  /* The state lends its settings and keeps the instance types a day; another name's is no
   * obstacle. */
  if (!ferry_invocation_open_state (inv, !inv->dry_run, FALSE, &state_error)
      && !g_error_matches (state_error, FERRY_ERROR, FERRY_ERROR_CONFIG))
    {
      g_propagate_error (error, g_steal_pointer (&state_error));
      return FALSE;
    }

  opts.arch = opt_arch ? opt_arch : "x86_64";
  opts.spot = opt_spot;
  opts.gpu = opt_gpu;
  opts.max_hours = ferry_plan_max_hours (inv, G_MININT64);
  q = ferry_plan_quote (inv, (const char *const *) argv + 1, (const char *const *) extra, &opts, c,
                        error);
  if (q == NULL)
    return FALSE;

  if (opt_json)
    {
      g_autoptr(json_t) doc = ferry_quote_to_json (q, (const char *const *) argv + 1);
      g_autofree char *text = json_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS);
      g_print ("%s\n", text);
    }
  else
    {
      print_needs (q, argv + 1);
      print_quote (q);
    }
  if (q->types_error == NULL && q->n_fitting == 0)
    return ferry_quote_throw_none_fits (q, error);
  return TRUE;
}
