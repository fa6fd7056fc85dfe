/* The deployment's dependency graph, run concurrently where independent, then the instance. */
#include "bootstrap.h"
#include "remote.h"
#include "spawn.h"

typedef enum
{
  CHAIN_SNAKEMAKE, /* the local snakemake's version, for the user data (started first) */
  CHAIN_KEY_PAIR,
  CHAIN_NETWORK, /* firewall in the default VPC (network first only when there is none) */
  CHAIN_BUCKET,
  CHAIN_ROLE, /* role, policy, instance profile: it needs the bucket's name, not the bucket */
  CHAIN_AMI,  /* the AMI */
  N_CHAINS
} ChainId;

/* What the launch waits for: each chain's end, or the resource the instance needs from it. */
typedef struct
{
  GMutex mutex;
  GCond cond;
  gboolean done[N_CHAINS];
  gboolean failed;
  gboolean group_recorded;
  gboolean bucket_recorded;
  gboolean profile_recorded;
} Gate;

static void
gate_recorded (const char *kind, gpointer data)
{
  Gate *gate = data;

  g_mutex_lock (&gate->mutex);
  if (g_str_equal (kind, FERRY_KIND_SECURITY_GROUP))
    gate->group_recorded = TRUE;
  else if (g_str_equal (kind, FERRY_KIND_BUCKET))
    gate->bucket_recorded = TRUE;
  else if (g_str_equal (kind, FERRY_KIND_INSTANCE_PROFILE))
    gate->profile_recorded = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->mutex);
}

/* The instance can be launched once its key pair, security group, bucket, instance profile and AMI
 * exist: the group's rule, the bucket's settings, the role's policy and its place in the profile
 * can still be on their way (they take effect on a running instance). FALSE when a chain failed
 * first. */
static gboolean
gate_wait_launch (Gate *gate)
{
  gboolean ok;

  g_mutex_lock (&gate->mutex);
  while (!gate->failed
         && !(gate->done[CHAIN_KEY_PAIR] && (gate->group_recorded || gate->done[CHAIN_NETWORK])
              && (gate->bucket_recorded || gate->done[CHAIN_BUCKET])
              && (gate->profile_recorded || gate->done[CHAIN_ROLE])
              && gate->done[CHAIN_AMI] && gate->done[CHAIN_SNAKEMAKE]))
    g_cond_wait (&gate->cond, &gate->mutex);
  ok = !gate->failed;
  g_mutex_unlock (&gate->mutex);
  return ok;
}

typedef struct
{
  ChainId id;
  Gate *gate;
  FerryResources *res;
  const FerryBootstrapOptions *opts;
  GCancellable *cancellable;
  GError *error;
  char *ami;
  char *root_device;
  char *snakemake_major;
} Chain;

static gpointer
chain_run (gpointer data)
{
  Chain *chain = data;
  FerryResources *res = chain->res;
  const FerryBootstrapOptions *opts = chain->opts;
  GCancellable *c = chain->cancellable;

  switch (chain->id)
    {
    case CHAIN_KEY_PAIR:
      ferry_ensure_key_pair (res, c, &chain->error);
      break;
    case CHAIN_NETWORK:
      /* The group goes into the default VPC without a lookup; EC2 picks the subnet. */
      ferry_ensure_firewall (res, opts->cidr, TRUE, c, &chain->error);
      break;
    case CHAIN_BUCKET:
      ferry_ensure_bucket (res, opts->bucket, c, &chain->error);
      break;
    case CHAIN_ROLE:
      ferry_ensure_role (res, opts->bucket, c, &chain->error);
      break;
    case CHAIN_AMI:
      if (opts->launch.root_device == NULL)
        ferry_lookup_ami (res, opts->launch.ami, &chain->ami, &chain->root_device, c,
                          &chain->error);
      break;
    case CHAIN_SNAKEMAKE:
      chain->snakemake_major = ferry_local_snakemake_major (c);
      break;
    case N_CHAINS:
    default:
      g_assert_not_reached ();
    }
  g_mutex_lock (&chain->gate->mutex);
  chain->gate->done[chain->id] = TRUE;
  if (chain->error != NULL)
    chain->gate->failed = TRUE;
  g_cond_broadcast (&chain->gate->cond);
  g_mutex_unlock (&chain->gate->mutex);
  return NULL;
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

static const char *const all_kinds[] = { FERRY_KIND_KEY_PAIR, FERRY_KIND_VPC,
                                         FERRY_KIND_SUBNET,   FERRY_KIND_SECURITY_GROUP,
                                         FERRY_KIND_BUCKET,   FERRY_KIND_ROLE,
                                         FERRY_KIND_INSTANCE_PROFILE };

gboolean
ferry_bootstrap (FerryResources *res, const FerryBootstrapOptions *opts, GPtrArray **out_created,
                 GCancellable *cancellable, GError **error)
{
  Chain chains[N_CHAINS] = { 0 };
  GThread *threads[N_CHAINS] = { 0 };
  gboolean had[G_N_ELEMENTS (all_kinds)];
  g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func (g_free);
  FerryLaunchOptions launch = opts->launch;
  gboolean instance_created = FALSE;
  GError *first_error = NULL;
  GError *launch_error = NULL;
  Gate gate = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    had[i] = ferry_state_has_resource (res->state, all_kinds[i]);

  g_mutex_init (&gate.mutex);
  g_cond_init (&gate.cond);
  res->recorded = gate_recorded;
  res->recorded_data = &gate;
  for (guint i = 0; i < N_CHAINS; i++)
    {
      chains[i] = (Chain){ .id = i, .gate = &gate, .res = res, .opts = opts,
                           .cancellable = cancellable };
      if ((i == CHAIN_BUCKET && opts->bucket == NULL)
          || (i == CHAIN_ROLE && (!opts->iam || opts->bucket == NULL))
          || ((i == CHAIN_AMI || i == CHAIN_SNAKEMAKE) && instance_recorded (res->state)))
        {
          gate.done[i] = TRUE;
          continue;
        }
      threads[i] = g_thread_new ("ferry-chain", chain_run, &chains[i]);
    }

  /* Launch as soon as what the instance needs exists; the rest finishes meanwhile. */
  if (gate_wait_launch (&gate))
    {
      if (chains[CHAIN_AMI].root_device != NULL)
        {
          launch.ami = chains[CHAIN_AMI].ami;
          launch.root_device = chains[CHAIN_AMI].root_device;
        }
      if (threads[CHAIN_SNAKEMAKE] != NULL)
        {
          launch.snakemake_major = chains[CHAIN_SNAKEMAKE].snakemake_major;
          launch.snakemake_checked = TRUE;
        }
      ferry_ensure_instance (res, &launch, &instance_created, cancellable, &launch_error);
    }
  for (guint i = 0; i < N_CHAINS; i++)
    if (threads[i] != NULL)
      {
        g_thread_join (threads[i]);
        if (chains[i].error != NULL && first_error == NULL)
          first_error = g_steal_pointer (&chains[i].error);
        g_clear_error (&chains[i].error);
      }
  if (first_error == NULL)
    first_error = g_steal_pointer (&launch_error);
  g_clear_error (&launch_error);
  res->recorded = NULL;
  res->recorded_data = NULL;
  g_mutex_clear (&gate.mutex);
  g_cond_clear (&gate.cond);
  for (guint i = 0; i < N_CHAINS; i++)
    {
      g_free (chains[i].ami);
      g_free (chains[i].root_device);
      g_free (chains[i].snakemake_major);
    }

  for (guint i = 0; i < G_N_ELEMENTS (all_kinds); i++)
    if (!had[i] && ferry_state_has_resource (res->state, all_kinds[i]))
      {
        g_autoptr(json_t) r = ferry_state_dup_resource (res->state, all_kinds[i]);
        if (json_is_true (json_object_get (r, "created")))
          g_ptr_array_add (created, g_strdup (all_kinds[i]));
      }
  if (instance_created)
    g_ptr_array_add (created, g_strdup (FERRY_KIND_INSTANCE));

  if (first_error != NULL)
    {
      g_propagate_error (error, first_error);
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
