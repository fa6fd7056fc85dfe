/* The deployment's dependency graph, walked from the kinds table: each kind's ensure once what it
 * needs is recorded, independent ones at once. */
#include "bootstrap.h"
#include "remote.h"
#include "spawn.h"
#include "pool.h"

/* What the steps share: what is asked for, and the launch options the AMI and snakemake steps fill
 * in before the instance's step starts. */
typedef struct
{
  FerryResources *res;
  FerrySpec spec;
  FerryLaunchOptions launch;
  FerryPool *pool;
  char *ami;
  char *root_device;
  char *snakemake_major;
} Graph;

typedef struct
{
  Graph *g;
  const FerryKind *kind;
} KindStep;

static gboolean
step_kind (gpointer data, GCancellable *c, GError **error)
{
  KindStep *step = data;
  return step->kind->ensure (step->g->res, &step->g->spec, c, error);
}

static gboolean
step_ami (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;

  if (!ferry_lookup_ami (g->res, g->launch.ami, &g->ami, &g->root_device, c, error))
    return FALSE;
  g->launch.ami = g->ami;
  g->launch.root_device = g->root_device;
  return TRUE;
}

/* The local snakemake's version, for the user data. */
static gboolean
step_snakemake (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;

  g->snakemake_major = ferry_local_snakemake_major (c);
  if (g->snakemake_major != NULL)
    {
      g->launch.snakemake_major = g->snakemake_major;
      g->launch.snakemake_checked = TRUE;
    }
  return TRUE;
}

/* A resource recorded: what waits for it may start while its step finishes the rest. */
static void
graph_recorded (const char *kind, gpointer data)
{
  Graph *g = data;
  ferry_pool_reach (g->pool, ferry_kind_label (kind));
}

/* Whether the state's instance looks alive, so that no AMI is needed (a re-run trusts the state;
 * the instance step confirms it with one call). */
static gboolean
instance_recorded (FerryState *state)
{
  g_autofree char *id = ferry_state_dup_resource_string (state, FERRY_KIND_INSTANCE, "id");
  g_autofree char *pending = ferry_state_dup_setting_string (state, "launch_token");

  return id != NULL && pending == NULL;
}

gboolean
ferry_bootstrap (FerryResources *res, const FerryBootstrapOptions *opts, GPtrArray **out_created,
                 GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryPool) pool = ferry_pool_new (0, cancellable);
  g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) had = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) steps = g_array_new (FALSE, TRUE, sizeof (KindStep));
  g_autoptr(GPtrArray) strvs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  gboolean lookups = !instance_recorded (res->state);
  gboolean ok;
  Graph g = { res };

  g.launch = opts->launch;
  g.spec = (FerrySpec){ .cidr = opts->cidr,
                        .default_vpc = TRUE,
                        .bucket = opts->bucket,
                        .iam = opts->iam,
                        .launch = &g.launch,
                        .budget_amount = opts->budget_amount,
                        .budget_email = opts->budget_email };
  g.pool = pool;
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (ferry_state_has_resource (res->state, k->kind))
      g_hash_table_add (had, (gpointer) k->kind);

  /* A step per kind that has an ensure, started once the kinds it waits for are recorded (the
   * group's rule, the bucket's settings, the role's policy can still be on their way: they apply to
   * a running instance), and reaching the milestones of the kinds made with it; the launch also
   * waits for the AMI and the local snakemake's version. */
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (k->ensure != NULL)
      {
        KindStep step = { &g, k };
        g_array_append_val (steps, step);
      }
  ferry_pool_set_log (pool, res->log, res->log_data);
  if (lookups && g.launch.root_device == NULL)
    ferry_pool_add (pool, "AMI", step_ami, &g, NULL, NULL);
  if (lookups)
    ferry_pool_add (pool, "snakemake", step_snakemake, &g, NULL, NULL);
  for (guint i = 0; i < steps->len; i++)
    {
      KindStep *step = &g_array_index (steps, KindStep, i);
      g_autoptr(GStrvBuilder) after = g_strv_builder_new ();
      g_autoptr(GStrvBuilder) provides = g_strv_builder_new ();
      GStrv after_v, provides_v;

      /* Steps and milestones go by label: a stopped step's line reads "security group: ...". */
      for (guint j = 0; step->kind->ensure_after != NULL && step->kind->ensure_after[j] != NULL; j++)
        g_strv_builder_add (after, ferry_kind_label (step->kind->ensure_after[j]));
      if (g_str_equal (step->kind->kind, FERRY_KIND_INSTANCE) && lookups)
        {
          if (g.launch.root_device == NULL)
            g_strv_builder_add (after, "AMI");
          g_strv_builder_add (after, "snakemake");
        }
      for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
        if (g_strcmp0 (k->made_with, step->kind->kind) == 0)
          g_strv_builder_add (provides, k->label);
      after_v = g_strv_builder_end (after);
      provides_v = g_strv_builder_end (provides);
      g_ptr_array_add (strvs, after_v);
      g_ptr_array_add (strvs, provides_v);
      ferry_pool_add (pool, step->kind->label, step_kind, step, (const char *const *) after_v,
                      (const char *const *) provides_v);
    }

  res->recorded = graph_recorded;
  res->recorded_data = &g;
  res->instance_launched = FALSE;
  ok = ferry_pool_run (pool, &local_error);
  res->recorded = NULL;
  res->recorded_data = NULL;

  /* What this run made, in dependency order (the instance, made or not, says so itself). */
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (k->in_state && !g_str_equal (k->kind, FERRY_KIND_INSTANCE)
        && !g_hash_table_contains (had, k->kind)
        && ferry_state_has_resource (res->state, k->kind))
      {
        g_autoptr(json_t) r = ferry_state_dup_resource (res->state, k->kind);
        if (json_is_true (json_object_get (r, "created")))
          g_ptr_array_insert (created, 0, g_strdup (k->kind));
      }
  if (res->instance_launched)
    g_ptr_array_add (created, g_strdup (FERRY_KIND_INSTANCE));
  g_free (g.ami);
  g_free (g.root_device);
  g_free (g.snakemake_major);

  if (!ok)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (opts->wait_ssh && !res->dry_run
      && !ferry_wait_ssh (res->state, opts->launch.ssh_user, opts->ssh_options,
                          opts->ssh_timeout_s, res->log, res->log_data, cancellable, error))
    return FALSE;
  if (out_created)
    *out_created = g_steal_pointer (&created);
  return TRUE;
}

/* --- waiting for SSH ---------------------------------------------------------------------------- */

/* The host and port ssh would connect to, after the user's options (HostName=, Port=) apply. */
static gboolean
ssh_destination (FerryRemote *remote, char **out_host, guint16 *out_port,
                 GCancellable *cancellable, GError **error)
{
  g_auto(GStrv) argv = ferry_remote_ssh_argv (remote, FALSE, NULL);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) with_g = NULL;
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;

  g_strv_builder_add_many (b, argv[0], "-G", NULL);
  g_strv_builder_addv (b, (const char **) argv + 1);
  with_g = g_strv_builder_end (b);
  if (!ferry_spawn_check ((const char *const *) with_g, NULL, NULL, &out, cancellable, error))
    return FALSE;
  *out_host = NULL;
  *out_port = 22;
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "hostname ") && *out_host == NULL)
      *out_host = g_strdup (lines[i] + strlen ("hostname "));
    else if (g_str_has_prefix (lines[i], "port "))
      *out_port = (guint16) g_ascii_strtoull (lines[i] + strlen ("port "), NULL, 10);
  if (*out_host == NULL)
    return ferry_throw (error, FERRY_ERROR_CHILD, "ssh -G printed no host name");
  return TRUE;
}

static gboolean
tcp_open (const char *host, guint16 port, GCancellable *cancellable)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;

  g_socket_client_set_timeout (client, 3);
  conn = g_socket_client_connect_to_host (client, host, port, cancellable, NULL);
  return conn != NULL;
}

gboolean
ferry_wait_ssh (FerryState *state, const char *user, const char *const *options, guint timeout_s,
                FerryLogFunc log, gpointer log_data, GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryRemote) remote = ferry_remote_new_from_state (state, user, options, error);
  g_autofree char *host = NULL;
  g_autoptr(GError) last = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  gboolean said = FALSE;
  guint16 port;

  if (remote == NULL || !ssh_destination (remote, &host, &port, cancellable, error))
    return FALSE;
  for (;;)
    {
      g_clear_error (&last);
      if (tcp_open (host, port, cancellable))
        {
          int code = 0;
          g_autoptr(GBytes) out = NULL;
          if (ferry_remote_capture (remote, "true", &out, &code, cancellable, &last) && code == 0)
            break;
        }
      else
        g_set_error (&last, FERRY_ERROR, FERRY_ERROR_FAILED, "nothing answers on %s port %u",
                     host, port);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      if (g_get_monotonic_time () > deadline)
        {
          ferry_remote_close (remote);
          return ferry_throw (error, FERRY_ERROR_FAILED,
                              "the instance does not take SSH after %u s (%s); check ferry status, "
                              "the security group's --cidr, or retry later with ferry bootstrap",
                              timeout_s, last ? last->message : "no answer");
        }
      if (!said && log != NULL)
        log ("waiting for SSH on the instance", log_data);
      said = TRUE;
      if (!ferry_sleep (2000, cancellable, error))
        {
          ferry_remote_close (remote);
          return FALSE;
        }
    }
  ferry_remote_close (remote);
  return TRUE;
}
