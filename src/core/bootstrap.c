/* The deployment's dependency graph, run concurrently where independent, then the instance. */
#include "bootstrap.h"
#include "remote.h"
#include "spawn.h"
#include "pool.h"

/* What the steps share: the options, and what the AMI and snakemake steps find for the launch. */
typedef struct
{
  FerryResources *res;
  const FerryBootstrapOptions *opts;
  FerryPool *pool;
  char *ami;
  char *root_device;
  char *snakemake_major;
  gboolean looked_up;
  gboolean instance_created;
} Graph;

static gboolean
step_key_pair (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  return ferry_ensure_key_pair (g->res, c, error);
}

/* The group goes into the default VPC without a lookup; EC2 picks the subnet. */
static gboolean
step_network (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  return ferry_ensure_firewall (g->res, g->opts->cidr, TRUE, c, error);
}

static gboolean
step_bucket (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  return ferry_ensure_bucket (g->res, g->opts->bucket, c, error);
}

/* Role, policy and instance profile: it needs the bucket's name, not the bucket. */
static gboolean
step_role (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  return ferry_ensure_role (g->res, g->opts->bucket, c, error);
}

static gboolean
step_ami (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  g->looked_up = TRUE;
  return ferry_lookup_ami (g->res, g->opts->launch.ami, &g->ami, &g->root_device, c, error);
}

/* The local snakemake's version, for the user data. */
static gboolean
step_snakemake (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  g->snakemake_major = ferry_local_snakemake_major (c);
  return TRUE;
}

static gboolean
step_instance (gpointer data, GCancellable *c, GError **error)
{
  Graph *g = data;
  FerryLaunchOptions launch = g->opts->launch;

  if (g->looked_up)
    {
      launch.ami = g->ami;
      launch.root_device = g->root_device;
    }
  if (g->snakemake_major != NULL)
    {
      launch.snakemake_major = g->snakemake_major;
      launch.snakemake_checked = TRUE;
    }
  return ferry_ensure_instance (g->res, &launch, &g->instance_created, c, error);
}

/* A resource recorded: the launch may start on it while its step finishes the rest. */
static void
graph_recorded (const char *kind, gpointer data)
{
  Graph *g = data;
  ferry_pool_reach (g->pool, kind);
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
  g_autoptr(GStrvBuilder) needs = g_strv_builder_new ();
  g_auto(GStrv) launch_after = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GHashTable) had = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok;
  Graph g = { res, opts, pool };
  static const char *const group[] = { FERRY_KIND_SECURITY_GROUP, NULL };
  static const char *const profile[] = { FERRY_KIND_INSTANCE_PROFILE, NULL };

  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (ferry_state_has_resource (res->state, k->kind))
      g_hash_table_add (had, (gpointer) k->kind);

  /* key pair | network -> firewall | bucket | role -> profile | AMI | snakemake's version; the
   * instance as soon as its key pair, group, bucket, profile and AMI exist (the group's rule, the
   * bucket's settings, the role's policy can still be on their way: they apply to a running
   * instance). */
  ferry_pool_set_log (pool, res->log, res->log_data);
  ferry_pool_add (pool, "key pair", step_key_pair, &g, NULL, NULL);
  ferry_pool_add (pool, "network", step_network, &g, NULL, group);
  g_strv_builder_add_many (needs, "key pair", FERRY_KIND_SECURITY_GROUP, NULL);
  if (opts->bucket != NULL)
    {
      ferry_pool_add (pool, FERRY_KIND_BUCKET, step_bucket, &g, NULL, NULL);
      g_strv_builder_add (needs, FERRY_KIND_BUCKET);
    }
  if (opts->iam && opts->bucket != NULL)
    {
      ferry_pool_add (pool, "role", step_role, &g, NULL, profile);
      g_strv_builder_add (needs, FERRY_KIND_INSTANCE_PROFILE);
    }
  if (!instance_recorded (res->state))
    {
      if (opts->launch.root_device == NULL)
        {
          ferry_pool_add (pool, "AMI", step_ami, &g, NULL, NULL);
          g_strv_builder_add (needs, "AMI");
        }
      ferry_pool_add (pool, "snakemake", step_snakemake, &g, NULL, NULL);
      g_strv_builder_add (needs, "snakemake");
    }
  launch_after = g_strv_builder_end (needs);
  ferry_pool_add (pool, "instance", step_instance, &g, (const char *const *) launch_after, NULL);

  res->recorded = graph_recorded;
  res->recorded_data = &g;
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
  if (g.instance_created)
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
