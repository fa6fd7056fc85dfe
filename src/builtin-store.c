/* ferry store: what the deployment's store holds (ls), a manifest brought home (pull), and what no
 * kept manifest needs deleted (prune). */
#include "ferry-builtins.h"
#include "core/kinds.h"
#include "core/pricing.h"
#include "core/store.h"

static gboolean opt_json;
static int opt_older_than = -1;

static const GOptionEntry options[] = {
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "ls: print the manifests as one JSON document", NULL },
  { "older-than", 0, 0, G_OPTION_ARG_INT, &opt_older_than, "prune: delete the manifests older than DAYS first (0: all of them)", "DAYS" },
  { NULL }
};

/* The deployment's store: the state's bucket, or a usage error saying how to make one. */
FerryStore *
ferry_builtin_store_open (FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autofree char *bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");

  if (bucket == NULL)
    return (ferry_throw (error, FERRY_ERROR_USAGE,
                         "deployment %s has no bucket, so no store: ferry bootstrap --bucket NAME --iam",
                         inv->name),
            NULL);
  if (!ferry_invocation_use_aws (inv, c, error))
    return NULL;
  return ferry_store_new (inv->aws, bucket, ferry_state_get_dir (inv->state));
}

static void
say (const char *message, gpointer user_data)
{
  g_printerr ("%s\n", message);
}

static gboolean
store_ls (FerryInvocation *inv, FerryStore *store, GCancellable *c, GError **error)
{
  g_autoptr(json_t) list = ferry_store_list (store, c, error);
  FerryStoreUsage usage;
  size_t i;
  json_t *o;

  if (list == NULL || !ferry_store_usage (store, &usage, c, error))
    return FALSE;
  if (opt_json)
    {
      g_autoptr(json_t) doc = json_pack ("{s:s, s:I, s:I, s:O}", "bucket",
                                         ferry_store_get_bucket (store), "objects",
                                         (json_int_t) usage.objects, "bytes",
                                         (json_int_t) usage.bytes, "manifests", list);
      g_autofree char *text = json_dumps (doc, JSON_INDENT (2));
      g_print ("%s\n", text);
      return TRUE;
    }
  g_print ("%-58s  %-4s  %-20s  %7s  %12s\n", "MANIFEST", "KIND", "CREATED", "FILES", "BYTES");
  json_array_foreach (list, i, o)
    {
      const char *key = json_string_value (json_object_get (o, "key"));
      g_print ("%-58s  %-4s  %-20s  %7" JSON_INTEGER_FORMAT "  %12" JSON_INTEGER_FORMAT "\n",
               key + strlen (FERRY_STORE_PREFIX "manifests/"),
               json_string_value (json_object_get (o, "kind")) ?: "-",
               json_string_value (json_object_get (o, "created")) ?: "-",
               json_integer_value (json_object_get (o, "files")),
               json_integer_value (json_object_get (o, "bytes")));
    }
  g_print ("s3://%s/%s: %u objects, %" G_GUINT64_FORMAT " bytes, %zu manifests\n",
           ferry_store_get_bucket (store), FERRY_STORE_PREFIX, usage.objects, usage.bytes,
           json_array_size (list));
  return TRUE;
}

gboolean
ferry_builtin_store (int argc, char **argv, FerryInvocation *inv, GCancellable *c, GError **error)
{
  g_autoptr(GOptionContext) context = g_option_context_new ("ls|pull MANIFEST [PATH...]|prune");
  g_autoptr(FerryStore) store = NULL;
  const char *action;

  g_option_context_set_summary (
      context,
      "The store in the deployment's bucket, where pushes put their inputs and run --save the\n"
      "outputs, each file once by its SHA-256.\n"
      "  ls                       the manifests (each push and save), objects and bytes\n"
      "  pull MANIFEST [PATH...]  bring a manifest's files (or those under PATH) into the current\n"
      "                           dir, every hash checked, as securely as a pulled tar\n"
      "  prune [--older-than D]   delete the manifests older than D days, then what no manifest left\n"
      "                           needs (content younger than a day stays: a push may be under way)");
  if (!ferry_option_context_parse (context, options, &argc, &argv, inv, FERRY_BUILTIN_FLAG_NONE, c,
                                   error))
    return FALSE;
  if (argc < 2)
    return ferry_usage_error (context, error, "store needs ls, pull or prune (see ferry store --help)");
  action = argv[1];
  if (!g_str_equal (action, "ls") && !g_str_equal (action, "pull") && !g_str_equal (action, "prune"))
    return ferry_usage_error (context, error, "unknown store action \"%s\": ls, pull or prune", action);
  if (!g_str_equal (action, "pull") && argc > 2)
    return ferry_usage_error (context, error, "unexpected argument \"%s\"", argv[2]);
  if (g_str_equal (action, "pull") && argc < 3)
    return ferry_usage_error (context, error, "store pull needs a MANIFEST (ferry store ls lists them)");
  if (opt_older_than != -1 && (opt_older_than < 0 || !g_str_equal (action, "prune")))
    return ferry_usage_error (context, error, "--older-than takes a number of days, for prune");
  if (!ferry_invocation_open_state (inv, FALSE, FALSE, error))
    return FALSE;
  store = ferry_builtin_store_open (inv, c, error);
  if (store == NULL)
    return FALSE;
  ferry_store_set_log (store, say, NULL);

  if (g_str_equal (action, "ls"))
    return store_ls (inv, store, c, error);
  if (g_str_equal (action, "pull"))
    {
      g_autofree char *key = g_str_has_prefix (argv[2], FERRY_STORE_PREFIX)
                                 ? g_strdup (argv[2])
                                 : g_strconcat (FERRY_STORE_PREFIX "manifests/", argv[2], NULL);
      FerryPullStats stats;
      if (!ferry_store_pull (store, key, argc > 3 ? (const char *const *) argv + 3 : NULL, &stats, c,
                             error))
        return FALSE;
      g_print ("pulled %u entries (%" G_GUINT64_FORMAT " bytes) from s3://%s/%s\n", stats.entries,
               stats.bytes, ferry_store_get_bucket (store), key);
      return TRUE;
    }
  {
    guint manifests, objects;
    guint64 bytes;
    if (!ferry_store_prune (store, opt_older_than, inv->dry_run, &manifests, &objects,
                            &bytes, c, error))
      return FALSE;
    g_print ("%s %u manifests and %u objects (%" G_GUINT64_FORMAT " bytes) from s3://%s/%s\n",
             inv->dry_run ? "would delete" : "deleted", manifests, objects, bytes,
             ferry_store_get_bucket (store), FERRY_STORE_PREFIX);
  }
  return TRUE;
}

gboolean
ferry_store_save_outputs (FerryInvocation *inv, FerryRemote *remote, const char *dir,
                          const char *run_id, char **outputs, GCancellable *c, GError **error)
{
  g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, error);
  g_autoptr(json_t) meta = NULL;
  g_autoptr(json_t) list = json_array ();
  g_autofree char *key = NULL;

  if (store == NULL)
    return FALSE;
  for (guint i = 0; outputs != NULL && outputs[i] != NULL; i++)
    json_array_append_new (list, json_string (outputs[i]));
  meta = json_pack ("{s:s, s:O, s:s?}", "deployment", inv->name, "targets", list, "run", run_id);
  key = ferry_store_save_remote (store, remote, dir, (const char *const *) outputs, meta, c, error);
  if (key == NULL)
    return FALSE;
  g_printerr ("saved the outputs in s3://%s/%s\n", ferry_store_get_bucket (store), key);
  return TRUE;
}

gboolean
ferry_store_pull_wanted (FerryInvocation *inv, const char *host)
{
  g_autofree char *bucket = NULL;
  g_autofree char *id = NULL;
  g_autofree char *state = NULL;

  if (host != NULL)
    return FALSE;
  bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
  if (bucket == NULL)
    return FALSE;
  id = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "id");
  state = ferry_state_dup_resource_string (inv->state, FERRY_KIND_INSTANCE, "state");
  return id == NULL || (state != NULL && !g_str_equal (state, "running") && !g_str_equal (state, "pending"));
}

gboolean
ferry_store_pull_outputs (FerryInvocation *inv, char **outputs, GCancellable *c, GError **error)
{
  g_autoptr(FerryStore) store = ferry_builtin_store_open (inv, c, error);
  g_autofree char *key = NULL;
  FerryPullStats stats;

  if (store == NULL)
    return FALSE;
  key = ferry_store_find_saved (store, (const char *const *) outputs, c, error);
  if (key == NULL)
    return FALSE;
  if (!ferry_store_pull (store, key, (const char *const *) outputs, &stats, c, error))
    return FALSE;
  g_print ("pulled %u entries (%" G_GUINT64_FORMAT " bytes) from the store, s3://%s/%s\n",
           stats.entries, stats.bytes, ferry_store_get_bucket (store), key);
  return TRUE;
}

char *
ferry_store_summary (FerryInvocation *inv, json_t **out_json, GCancellable *c)
{
  g_autofree char *bucket = ferry_state_dup_resource_string (inv->state, FERRY_KIND_BUCKET, "id");
  g_autoptr(FerryStore) store = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *cost = NULL;
  FerryStoreUsage usage;
  double usd_gb = -1;

  if (bucket == NULL)
    return NULL;
  store = ferry_store_new (inv->aws, bucket, ferry_state_get_dir (inv->state));
  if (!ferry_store_usage (store, &usage, c, &local))
    {
      if (out_json)
        *out_json = json_pack ("{s:s, s:s}", "bucket", bucket, "error", local->message);
      return g_strdup_printf ("s3://%s/%s: unknown (%s)", bucket, FERRY_STORE_PREFIX, local->message);
    }
  g_clear_error (&local);
  /* An empty store costs nothing at any price: no Pricing call (one aws process) for it. */
  if (usage.bytes == 0)
    cost = g_strdup ("nothing a month");
  else if (ferry_pricing_s3_standard (inv->aws, inv->region, &usd_gb, c, &local) && usd_gb >= 0)
    {
      g_autofree char *month = ferry_format_usd (usd_gb * usage.bytes / 1e9);
      g_autofree char *rate = ferry_format_usd (usd_gb);
      cost = g_strdup_printf ("%s a month at %s per GB-month (S3 Standard)", month, rate);
    }
  else
    {
      usd_gb = -1;
      cost = g_strdup_printf ("unknown a month (%s)", local ? local->message : "no S3 price");
    }
  if (out_json)
    *out_json = json_pack ("{s:s, s:I, s:I, s:I, s:o}", "bucket", bucket, "objects",
                           (json_int_t) usage.objects, "bytes", (json_int_t) usage.bytes,
                           "manifests", (json_int_t) usage.manifests, "usd_per_month",
                           usage.bytes == 0 ? json_real (0)
                           : usd_gb >= 0    ? json_real (usd_gb * usage.bytes / 1e9)
                                            : json_null ());
  return g_strdup_printf ("s3://%s/%s: %u objects, %" G_GUINT64_FORMAT " bytes, %u manifests; %s",
                          bucket, FERRY_STORE_PREFIX, usage.objects, usage.bytes, usage.manifests,
                          cost);
}
