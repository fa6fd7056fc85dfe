/* ferry status: what the state holds, and the instance as AWS sees it now. */
#include "ferry-builtins.h"
#include "core/agent.h"
#include "core/instance.h"
#include "core/pricing.h"
#include "core/teardown.h"
#include "core/remote.h"

static gboolean opt_json;
static char *opt_host;
static char *opt_remote_dir;

static const GOptionEntry options[]
    = { { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
          "Print one JSON document (state and live instance)", NULL },
        { "host", 0, 0, G_OPTION_ARG_STRING, &opt_host,
          "Show the runs on this host (default: on the instance, when it runs)", "[USER@]HOST" },
        { "remote-dir", 0, 0, G_OPTION_ARG_STRING, &opt_remote_dir,
          "The runs' directory on the remote (default ~/ferry/NAME)", "DIR" },
        { NULL } };

/* This state dir started or followed runs (their local logs are there). */
static gboolean
has_run_logs (FerryInvocation *inv)
{
  g_autofree char *logs = ferry_state_path (inv->state, "logs");
  g_autoptr(GDir) d = g_dir_open (logs, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "run-") && g_str_has_suffix (name, ".log"))
      return TRUE;
  return FALSE;
}

/* The runs on the --host, or on the instance while it runs and this state dir has run there: NULL
 * when there is nowhere to look; a remote that cannot be reached is a note, not a failure. */
static GPtrArray *
remote_runs (FerryInvocation *inv, json_t *live, char **out_where, char **out_note,
             GCancellable *c)
{
  g_autoptr(FerryRemote) remote = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *dir = NULL;
  GPtrArray *runs;

  if (opt_host == NULL
      && (g_strcmp0 (json_string_value (json_object_get (live, "state")), "running") != 0
          || (opt_remote_dir == NULL && !has_run_logs (inv))))
    return NULL;
  remote = ferry_remote_open (inv->state, opt_host, inv->ssh_user, (const char *const *) inv->ssh_options,
                              &local_error);
  if (remote == NULL)
    {
      *out_note = g_strdup (local_error->message);
      return NULL;
    }
  dir = opt_remote_dir ? g_strdup (opt_remote_dir) : ferry_remote_default_dir (inv->name);
  *out_where = g_strdup_printf ("%s:%s", remote->host, dir);
  runs = ferry_remote_runs_list (remote, dir, c, &local_error);
  if (runs != NULL)
    ferry_run_slurm_annotate (remote, dir, runs, c);
  ferry_remote_close (remote);
  if (runs == NULL)
    *out_note = g_strdup (local_error->message);
  return runs;
}

static char *
format_seconds (gint64 s)
{
  if (s < 0)
    s = 0;
  if (s < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " s", s);
  if (s < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " min %" G_GINT64_FORMAT " s", s / 60, s % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT " h %" G_GINT64_FORMAT " min", s / 3600, (s % 3600) / 60);
}

static void
print_runs (GPtrArray *runs, const char *where, const char *note)
{
  if (note != NULL)
    {
      g_print ("runs: not known (%s)\n", note);
      return;
    }
  if (runs == NULL)
    return;
  if (runs->len == 0)
    {
      g_print ("runs on %s: none\n", where);
      return;
    }
  g_print ("runs on %s:\n", where);
  for (guint i = 0; i < runs->len; i++)
    {
      FerryRun *run = runs->pdata[i];
      g_autofree char *took = format_seconds ((run->ended ? run->ended : run->now) - run->started);
      g_autofree char *what = NULL;
      g_autofree char *targets = NULL;
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_auto(GStrv) tv = NULL;
      json_t *v;
      size_t k;

      json_array_foreach (json_object_get (run->record, "targets"), k, v)
        if (json_is_string (v))
          g_strv_builder_add (b, json_string_value (v));
      tv = g_strv_builder_end (b);
      targets = g_strjoinv (" ", tv);
      switch (run->state)
        {
        case FERRY_RUN_RUNNING:
          what = run->started ? g_strdup_printf ("running for %s", took) : g_strdup ("starting");
          break;
        case FERRY_RUN_EXITED:
          what = g_strdup_printf ("%s (exit %d) after %s", run->exit_status == 0 ? "succeeded" : "failed",
                                  run->exit_status, took);
          break;
        case FERRY_RUN_CANCELLED:
          what = g_strdup_printf ("cancelled after %s", took);
          break;
        case FERRY_RUN_LOST:
        default:
          what = g_strdup ("lost (ended without an exit status)");
          break;
        }
      g_print ("  %s  %s: %s\n", run->id, what, targets);
      if (json_array_size (run->on_end) > 0)
        {
          /* The agent's last word: what became of --then on the instance. */
          json_t *last = json_array_get (run->on_end, json_array_size (run->on_end) - 1);
          g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc (json_integer_value (json_array_get (last, 0)));
          g_autofree char *when = at ? g_date_time_format (at, "%H:%M:%S UTC") : g_strdup ("?");
          g_print ("  %*s  --then %s on the instance, %s: %s %s\n", (int) strlen (run->id), "",
                   json_string_value (json_object_get (json_object_get (run->record, "on_end"), "then")),
                   when, json_string_value (json_array_get (last, 1)), json_string_value (json_array_get (last, 2)));
        }
      {
        g_autofree char *slurm = ferry_run_slurm_status_line (run);
        if (slurm != NULL)
          g_print ("  %*s  %s\n", (int) strlen (run->id), "", slurm);
      }
    }
}

static json_t *
or_null (json_t *v)
{
  return v != NULL ? json_deep_copy (v) : json_null ();
}

/* The live fields of the instance (or why there are none). */
static json_t *
live_instance (FerryInvocation *inv, const char *id, GCancellable *c, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) instance = ferry_instance_describe (inv->aws, id, c, &local_error);
  json_t *v, *dns;

  if (instance == NULL)
    {
      if (!g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "asking AWS about instance %s: ", id);
          return NULL;
        }
      return json_pack ("{s:s, s:s, s:n, s:n, s:n, s:n}", "id", id, "state", "gone", "public_dns",
                        "public_ip", "type", "launch_time");
    }
  dns = json_object_get (instance, "PublicDnsName");
  v = json_pack ("{s:s, s:s}", "id", id, "state", ferry_instance_state_name (instance));
  json_object_set_new (v, "public_dns",
                       json_string_length (dns) > 0 ? json_incref (dns) : json_null ());
  json_object_set_new (v, "public_ip", or_null (json_object_get (instance, "PublicIpAddress")));
  json_object_set_new (v, "type", or_null (json_object_get (instance, "InstanceType")));
  json_object_set_new (v, "launch_time", or_null (json_object_get (instance, "LaunchTime")));
  json_object_set_new (
      v, "availability_zone",
      or_null (json_object_get (json_object_get (instance, "Placement"), "AvailabilityZone")));
  json_object_set_new (v, "state_reason", or_null (json_object_get (instance, "StateTransitionReason")));
  {
    g_autofree char *story = ferry_run_instance_story (instance);
    g_autofree char *saved = ferry_run_instance_tag_field (instance, "saved");
    g_autofree char *interrupted = ferry_run_instance_tag_field (instance, "interrupted");
    json_object_set_new (v, "last_run", story ? json_string (story) : json_null ());
    json_object_set_new (v, "saved", saved ? json_string (saved) : json_null ());
    json_object_set_new (v, "interruption",
                         interrupted ? json_integer (g_ascii_strtoll (interrupted, NULL, 10)) : json_null ());
  }
  return v;
}

static void
print_resource (const char *kind, json_t *res)
{
  const char *id = json_string_value (json_object_get (res, "id"));
  g_autoptr(GPtrArray) extra = g_ptr_array_new_with_free_func (g_free);
  const char *keys[] = { "name", "cidr", "az", "arn", "policy" };
  g_autofree char *joined = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *v = json_string_value (json_object_get (res, keys[i]));
      if (v != NULL && *v != '\0' && g_strcmp0 (v, id) != 0)
        g_ptr_array_add (extra, g_strdup (v));
    }
  g_ptr_array_add (extra, g_strdup (json_is_true (json_object_get (res, "created"))
                                        ? "created by ferry"
                                        : "adopted, kept by teardown"));
  g_ptr_array_add (extra, NULL);
  joined = g_strjoinv (", ", (char **) extra->pdata);
  g_print ("  %-17s %s (%s)\n", ferry_kind_label (kind), id, joined);
}

static void
print_instance (FerryInvocation *inv, json_t *res, json_t *live)
{
  const char *state = json_string_value (json_object_get (live, "state"));
  const char *dns = json_string_value (json_object_get (live, "public_dns"));
  const char *ip = json_string_value (json_object_get (live, "public_ip"));
  const char *type = json_string_value (json_object_get (live, "type"));
  g_autoptr(GDateTime) launched = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  json_t *max_hours = json_object_get (res, "max_hours");

  if (json_is_string (json_object_get (live, "launch_time")))
    launched = g_date_time_new_from_iso8601 (
        json_string_value (json_object_get (live, "launch_time")), NULL);

  g_print ("  %-17s %s: %s", "instance", json_string_value (json_object_get (live, "id")), state);
  if (type != NULL)
    g_print (", %s", type);
  if (launched != NULL && g_strcmp0 (state, "running") == 0)
    {
      g_autofree char *age = ferry_format_age (launched, now);
      g_print (", up %s", age);
    }
  if (json_is_integer (max_hours))
    g_print (", lifetime cap %" JSON_INTEGER_FORMAT " h", json_integer_value (max_hours));
  if (json_is_true (json_object_get (res, "spot")))
    g_print (", spot");
  g_print ("\n");
  if (dns != NULL || ip != NULL)
    g_print ("  %-17s %s%s%s%s\n", "address", dns ? dns : "", dns && ip ? " (" : "", ip ? ip : "",
             dns && ip ? ")" : "");

  if (g_strcmp0 (state, "running") == 0 || g_strcmp0 (state, "pending") == 0)
    {
      g_autofree char *hint = ferry_resources_ssh_hint (inv);
      g_print ("it bills by the second: %s to use it, ferry stop or ferry terminate to end it\n",
               hint);
    }
  else if (g_strcmp0 (state, "stopped") == 0 || g_strcmp0 (state, "stopping") == 0)
    {
      const char *story = json_string_value (json_object_get (live, "last_run"));
      const char *reason = json_string_value (json_object_get (live, "state_reason"));
      /* Its run stopped it: the tag its agent left tells the story without starting it. */
      if (story != NULL)
        g_print ("  %-17s %s: the instance stopped itself%s%s%s\n"
                 "  %-17s on the instance's volume: ferry attach brings them home (it starts the instance,"
                 " pulls, and stops it again)\n",
                 "last run", story, reason && *reason ? " (" : "", reason ? reason : "",
                 reason && *reason ? ")" : "", "outputs");
      g_print ("stopped: its volume still bills (ferry start resumes it, ferry terminate ends it)\n");
    }
  else if (g_strcmp0 (state, "gone") == 0 || g_strcmp0 (state, "terminated") == 0
           || g_strcmp0 (state, "shutting-down") == 0)
    {
      const char *story = json_string_value (json_object_get (live, "last_run"));
      const char *saved = json_string_value (json_object_get (live, "saved"));
      const char *reason = json_string_value (json_object_get (live, "state_reason"));
      g_autofree char *bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
      /* Its run ended it, or AWS took it back (spot): the tag its agent left says where the outputs
       * went. */
      if (story != NULL && json_is_integer (json_object_get (live, "interruption")))
        g_print ("  %-17s %s: AWS took the spot instance back (interruption %" JSON_INTEGER_FORMAT ")\n"
                 "  %-17s those finished, in the store, s3://%s/%s: ferry attach recovers the run on a new"
                 " instance\n",
                 "last run", story, json_integer_value (json_object_get (live, "interruption")), "outputs",
                 bucket ? bucket : "?", saved ? saved : "?");
      else if (story != NULL && saved != NULL)
        g_print ("  %-17s %s: the instance terminated itself%s%s%s\n"
                 "  %-17s in the store, s3://%s/%s: ferry attach (or ferry pull TARGET) brings them home\n",
                 "last run", story, reason && *reason ? " (" : "", reason ? reason : "",
                 reason && *reason ? ")" : "", "outputs", bucket ? bucket : "?", saved);
      g_print ("the instance is %s: nothing of it bills; ferry bootstrap launches a new one\n", state);
    }
}

/* What each interrupted instance cost (its type, how long it ran, at the spot or on-demand price
 * found now), one line each, and the total: the price of the retries. Each object gets its figures
 * for --json; *out_total < 0 when a price is unknown. */
static char *
interruptions_price (FerryInvocation *inv, json_t *interruptions, double *out_total, GCancellable *c)
{
  g_autoptr(FerryPriceBook) book = ferry_price_book_new (inv->aws, inv->aws->region);
  g_autoptr(GString) s = g_string_new (NULL);
  g_autofree char *total_text = NULL;
  double total = 0;
  json_t *o;
  size_t i;

  json_array_foreach (interruptions, i, o)
    {
      const char *type = json_string_value (json_object_get (o, "instance_type"));
      const char *zone = json_string_value (json_object_get (o, "zone"));
      gboolean spot = g_strcmp0 (json_string_value (json_object_get (o, "market")), "on-demand") != 0;
      g_autoptr(GDateTime) launched = NULL;
      const char *why = NULL;
      double hourly = -1, cost = -1;
      gint64 ran = -1;
      g_autofree char *ran_text = NULL;
      g_autofree char *cost_text = NULL;
      g_autofree char *hourly_text = NULL;
      g_autofree char *reason = NULL;

      if (json_is_string (json_object_get (o, "launched")))
        launched = g_date_time_new_from_iso8601 (json_string_value (json_object_get (o, "launched")), NULL);
      if (launched != NULL && json_is_integer (json_object_get (o, "interrupted_at")))
        ran = MAX (json_integer_value (json_object_get (o, "interrupted_at"))
                       - g_date_time_to_unix (launched),
                   0);
      if (type != NULL && *type)
        hourly = ferry_price_book_hourly (book, type, spot, zone && *zone ? zone : NULL, &why, c);
      cost = ran >= 0 ? ferry_price_for_seconds (hourly, ran) : -1;
      total = cost >= 0 && total >= 0 ? total + cost : -1;
      ran_text = ran >= 0 ? g_strdup_printf ("%" G_GINT64_FORMAT " s", ran) : g_strdup ("unknown");
      cost_text = ferry_format_usd (cost);
      hourly_text = ferry_format_usd (hourly);
      json_object_set_new (o, "ran_s", ran >= 0 ? json_integer (ran) : json_null ());
      json_object_set_new (o, "hourly_usd", hourly >= 0 ? json_real (hourly) : json_null ());
      json_object_set_new (o, "cost_usd", cost >= 0 ? json_real (cost) : json_null ());
      g_string_append_printf (s, "  %-17s %s %s %s ran %s: %s", "retry cost",
                              json_string_value (json_object_get (o, "instance")) ?: "unknown instance",
                              type && *type ? type : "unknown type", spot ? "spot" : "on demand",
                              ran_text, cost_text);
      if (hourly >= 0)
        g_string_append_printf (s, " at %s/h\n", hourly_text);
      else
        g_string_append_printf (s, " (no %s price: %s)\n", spot ? "spot" : "on-demand",
                                (reason = ferry_plan_short_reason (why)));
    }
  total_text = ferry_format_usd (total);
  g_string_append_printf (s, "  %-17s %s for %zu interrupted instances\n", "retries cost", total_text,
                          json_array_size (interruptions));
  *out_total = total;
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Uptime and cost so far of the live instance, and its volume's price a month. */
static char *
instance_cost (FerryInvocation *inv, json_t *res, json_t *live, json_t **out_json, GCancellable *c)
{
  g_autoptr(FerryPriceBook) book = ferry_price_book_new (inv->aws, inv->aws->region);
  g_autoptr(GDateTime) launched = NULL;
  const char *state = json_string_value (json_object_get (live, "state"));

  if (g_strcmp0 (state, "gone") == 0 || g_strcmp0 (state, "terminated") == 0)
    return NULL;
  if (json_is_string (json_object_get (live, "launch_time")))
    launched = g_date_time_new_from_iso8601 (json_string_value (json_object_get (live, "launch_time")),
                                             NULL);
  return ferry_plan_cost_line (book, json_string_value (json_object_get (live, "type")),
                               json_is_true (json_object_get (res, "spot")),
                               json_string_value (json_object_get (live, "availability_zone")),
                               launched, state,
                               json_integer_value (json_object_get (res, "volume_size")), out_json, c);
}

gboolean
ferry_builtin_status (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new (NULL);
  g_autoptr(json_t) root = NULL;
  g_autoptr(json_t) live = NULL;
  g_autoptr(json_t) doc = NULL;
  g_autofree char *id = NULL;
  g_autofree char *cost = NULL;
  g_autoptr(json_t) cost_json = NULL;
  g_autofree char *store = NULL;
  g_autoptr(json_t) store_json = NULL;
  g_autoptr(json_t) interruptions = NULL;
  g_autofree char *interruptions_cost = NULL;
  double interruptions_total = -1;
  g_autoptr(GPtrArray) runs = NULL;
  g_autofree char *runs_where = NULL;
  g_autofree char *runs_note = NULL;
  json_t *resources;
  gboolean exists;

  g_option_context_set_summary (
      context, "Show the deployment kept in the state dir, and the instance's live state\n"
               "(one describe-instances call).");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_CONNECT, c,
                                   error))
    return FALSE;
  if (argc > 1)
    return ferry_usage_error (context, error,
                              "unexpected argument \"%s\" (see ferry status --help)", argv[1]);
  if (!ferry_invocation_open_state (inv, FALSE, FALSE, error))
    return FALSE;

  exists = ferry_state_exists_on_disk (inv->state);
  root = ferry_state_dup_root (inv->state);
  resources = json_object_get (root, "resources");
  id = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "id");
  if (exists && id != NULL)
    {
      if (!ferry_invocation_use_aws (inv, c, error))
        return FALSE;
      live = live_instance (inv, id, c, error);
      if (live == NULL)
        return FALSE;
      cost = instance_cost (inv, json_object_get (resources, FERRY_KIND_INSTANCE), live,
                            &cost_json, c);
    }
  if (exists && ferry_state_has_resource (inv->state, FERRY_KIND_BUCKET)
      && ferry_invocation_use_aws (inv, c, NULL))
    store = ferry_store_summary (inv, &store_json, c);
  /* Each spot interruption, from the saves the runs' agents made. */
  if (json_integer_value (json_object_get (store_json, "manifests")) > 0)
    interruptions = ferry_run_interruptions (inv, c);
  if (json_array_size (interruptions) > 0)
    interruptions_cost = interruptions_price (inv, interruptions, &interruptions_total, c);
  runs = remote_runs (inv, live, &runs_where, &runs_note, c);

  if (opt_json)
    {
      g_autofree char *text = NULL;
      doc = json_pack ("{s:s, s:s, s:O?, s:O?, s:O?}", "name", inv->name, "state_dir",
                       inv->state_dir, "deployment", exists ? root : NULL, "live", live, "cost",
                       cost_json);
      if (store_json != NULL)
        json_object_set (doc, "store", store_json);
      json_object_set (doc, "interruptions", interruptions ? interruptions : json_null ());
      if (interruptions_cost != NULL)
        json_object_set_new (doc, "interruptions_usd",
                             interruptions_total >= 0 ? json_real (interruptions_total) : json_null ());
      if (runs != NULL || runs_note != NULL)
        {
          json_t *a = json_array ();
          for (guint i = 0; runs != NULL && i < runs->len; i++)
            json_array_append_new (a, ferry_run_to_json (runs->pdata[i]));
          json_object_set_new (doc, "runs", runs != NULL ? a : (json_decref (a), json_null ()));
          json_object_set_new (doc, "runs_where", runs_where ? json_string (runs_where) : json_null ());
          json_object_set_new (doc, "runs_error", runs_note ? json_string (runs_note) : json_null ());
        }
      text = json_dumps (doc, JSON_INDENT (2) | JSON_SORT_KEYS);
      g_print ("%s\n", text);
      return TRUE;
    }

  if (!exists)
    {
      g_print ("no deployment in %s (ferry bootstrap creates one)\n", inv->state_dir);
      print_runs (runs, runs_where, runs_note);
      return TRUE;
    }
  g_print ("deployment %s in %s", inv->name, inv->state_dir);
  if (inv->region != NULL)
    g_print (", region %s", inv->region);
  if (inv->endpoint_url != NULL)
    g_print (", endpoint %s", inv->endpoint_url);
  g_print ("\n");
  if (json_object_size (resources) == 0)
    g_print ("  no resources (ferry bootstrap creates them)\n");
  /* The kinds ferry knows in their order (the instance last, with its live state), then any
   * other the state names. */
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    {
      json_t *res = json_object_get (resources, k->kind);
      if (res != NULL && !g_str_equal (k->kind, FERRY_KIND_INSTANCE))
        print_resource (k->kind, res);
    }
  {
    const char *kind;
    json_t *res;
    json_object_foreach (resources, kind, res)
      if (ferry_kind_lookup (kind) == NULL)
        print_resource (kind, res);
  }
  if (live != NULL)
    print_instance (inv, json_object_get (resources, FERRY_KIND_INSTANCE), live);
  if (cost != NULL)
    g_print ("  %-17s %s\n", "cost", cost);
  if (store != NULL)
    g_print ("  %-17s %s\n", "store", store);
  {
    json_t *o;
    size_t i;
    json_array_foreach (interruptions, i, o)
      g_print ("  %-17s run %s at %s (interruption %" JSON_INTEGER_FORMAT "): %" JSON_INTEGER_FORMAT
               " finished files saved in %s\n",
               "interrupted", json_string_value (json_object_get (o, "run")),
               json_string_value (json_object_get (o, "created")),
               json_integer_value (json_object_get (o, "interruptions")),
               json_integer_value (json_object_get (o, "files")), json_string_value (json_object_get (o, "key")));
    if (interruptions_cost != NULL)
      g_print ("%s", interruptions_cost);
  }
  if (live == NULL)
    g_print ("  %-17s none (ferry bootstrap or ferry launch starts one)\n", "instance");
  print_runs (runs, runs_where, runs_note);
  return TRUE;
}
