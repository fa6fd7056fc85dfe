/* The instance and its volume: launched from the AMI (looked up, or --ami) with the key pair, group,
 * subnet, profile, an encrypted gp3 root volume that goes with it, the user data (snakemake, conda,
 * the lifetime cap) and a client token, so an interrupted launch is found by tag instead of repeated;
 * waited for until running. Found by tag; terminated (its volume goes with it), then any leftover
 * volume is deleted. */
#include "kind-private.h"
#include "instance.h"
#include "snakemake.h"

/* --- ensure ------------------------------------------------------------------------------------- */

gboolean
ferry_lookup_ami (FerryResources *res, const char *ami, char **out_ami, char **out_root_device,
                  GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) out = NULL;
  json_t *image, *newest = NULL;
  size_t i;

  if (ami == NULL)
    {
      g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
      g_autoptr(GError) local_error = NULL;
      g_strv_builder_add_many (b, "--names", FERRY_AMI_PARAMETER, NULL);
      out = ferry_res_call (res, "ssm", "get-parameters", b, cancellable, &local_error);
      /* A missing parameter or no SSM access falls back to describe-images; throttling and an
       * answer that is not JSON are errors. */
      if (out == NULL && (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_THROTTLED)
                          || g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_INVALID_DATA)))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      ami = json_string_value (
          json_object_get (json_array_get (json_object_get (out, "Parameters"), 0), "Value"));
      if (ami != NULL && g_str_has_prefix (ami, "ami-"))
        {
          *out_ami = g_strdup (ami);
          *out_root_device = g_strdup ("/dev/xvda");
          return TRUE;
        }
      /* No SSM parameter here (a region or endpoint without it): the newest AL2023 image. */
      g_clear_pointer (&out, json_decref);
      {
        g_autoptr(GStrvBuilder) ib = g_strv_builder_new ();
        g_strv_builder_add_many (ib, "--owners", "amazon", "--filters",
                                 "Name=name,Values=al2023-ami-2023.*-x86_64",
                                 "Name=state,Values=available", "Name=architecture,Values=x86_64",
                                 NULL);
        out = ferry_res_call (res, "ec2", "describe-images", ib, cancellable, error);
      }
    }
  else
    {
      g_autoptr(GStrvBuilder) ib = g_strv_builder_new ();
      g_autoptr(GError) local_error = NULL;
      g_strv_builder_add_many (ib, "--image-ids", ami, NULL);
      out = ferry_res_call (res, "ec2", "describe-images", ib, cancellable, &local_error);
      if (out == NULL && (ferry_aws_error_has_code (local_error, "InvalidAMIID.NotFound")
                          || ferry_aws_error_has_code (local_error, "InvalidAMIID.Malformed")))
        return ferry_throw (error, FERRY_ERROR_USAGE,
                            "AMI %s does not exist in this region; drop --ami to use Amazon "
                            "Linux 2023",
                            ami);
      if (out == NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  if (out == NULL)
    return FALSE;
  json_array_foreach (json_object_get (out, "Images"), i, image)
    if (newest == NULL
        || g_strcmp0 (json_string_value (json_object_get (image, "CreationDate")),
                      json_string_value (json_object_get (newest, "CreationDate")))
               > 0)
      newest = image;
  if (newest == NULL || !json_is_string (json_object_get (newest, "ImageId")))
    return ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                        ami ? "AMI %s does not exist in this region; drop --ami to use Amazon "
                              "Linux 2023"
                            : "no Amazon Linux 2023 image found in this region%s; pass --ami ID",
                        ami ? ami : "");
  *out_ami = g_strdup (json_string_value (json_object_get (newest, "ImageId")));
  *out_root_device = g_strdup (json_is_string (json_object_get (newest, "RootDeviceName"))
                                   ? json_string_value (json_object_get (newest, "RootDeviceName"))
                                   : "/dev/xvda");
  return TRUE;
}

char *
ferry_local_snakemake_major (GCancellable *cancellable)
{
  int major = 0;

  if (!ferry_snakemake_version (&major, NULL, NULL, cancellable, NULL))
    return NULL;
  return g_strdup_printf ("%d", major);
}

char *
ferry_user_data_render (const char *name, gint64 max_hours, const char *ssh_user,
                        const char *snakemake_major, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GString) s = NULL;
  g_autofree char *hours = g_strdup_printf ("%" G_GINT64_FORMAT, max_hours);
  g_autofree char *spec = NULL;
  g_autofree char *quoted_user = NULL;
  g_autofree char *quoted_spec = NULL;

  /* The user data runs as root: the user name is checked here too, not only at the command line. */
  if (!ferry_config_valid_user_name (ssh_user))
    return (ferry_throw (error, FERRY_ERROR_USAGE, "invalid ssh user \"%s\" for the user data",
                         ssh_user ? ssh_user : ""),
            NULL);
  if (!ferry_template_load ("user-data.sh", &text, error))
    return NULL;
  if (snakemake_major != NULL)
    spec = g_strdup_printf ("snakemake-minimal>=%s,<%d", snakemake_major,
                            atoi (snakemake_major) + 1);
  else
    spec = g_strdup ("snakemake-minimal");
  quoted_spec = g_shell_quote (spec);
  quoted_user = g_shell_quote (ssh_user);
  s = g_string_new (text);
  g_string_replace (s, "@NAME@", name, 0);
  g_string_replace (s, "@MAX_HOURS@", hours, 0);
  g_string_replace (s, "@SSH_USER@", quoted_user, 0);
  g_string_replace (s, "@SNAKEMAKE_SPEC@", quoted_spec, 0);
  g_string_replace (s, "@CONDA_SPEC@", "conda=" FERRY_CONDA_VERSION, 0);
  g_string_replace (s, "@MAMBA_SPEC@", "mamba=" FERRY_MAMBA_VERSION, 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* An instance ferry launched earlier for this name that is still alive (found by tag). */
static json_t *
find_tagged_instance (FerryResources *res, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) reservations = ferry_kind_describe_tagged (
      res->aws, "describe-instances", "Reservations", ferry_res_name (res),
      "Name=instance-state-name,Values=pending,running,stopping,stopped", cancellable, error);
  json_t *reservation, *instance;
  size_t i, j;

  if (reservations == NULL)
    return NULL;
  json_array_foreach (reservations, i, reservation)
    json_array_foreach (json_object_get (reservation, "Instances"), j, instance)
      return json_incref (instance);
  return json_object ();
}

static gboolean
record_instance (FerryResources *res, json_t *instance, const FerryLaunchOptions *opts,
                 GError **error)
{
  json_t *resource = ferry_resource_new (json_string_value (json_object_get (instance, "InstanceId")),
                                   TRUE);

  json_object_set (resource, "type", json_object_get (instance, "InstanceType"));
  json_object_set (resource, "ami", json_object_get (instance, "ImageId"));
  json_object_set_new (resource, "volume_size", json_integer (opts->volume_gb));
  json_object_set_new (resource, "max_hours", json_integer (opts->max_hours));
  json_object_set_new (resource, "spot", json_boolean (opts->spot));
  json_object_set_new (resource, "public_dns", json_null ());
  json_object_set_new (resource, "public_ip", json_null ());
  json_object_set_new (resource, "state", json_string (ferry_instance_state_name (instance)));
  json_object_set_new (resource, "launched_at",
                       json_is_string (json_object_get (instance, "LaunchTime"))
                           ? json_incref (json_object_get (instance, "LaunchTime"))
                           : json_null ());
  return ferry_res_record (res, FERRY_KIND_INSTANCE, resource, error);
}

static GStrv
run_instances_args (FerryResources *res, const FerryLaunchOptions *opts, const char *token,
                    const char *user_data_path, GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autofree char *key = ferry_state_dup_resource_string (res->state, FERRY_KIND_KEY_PAIR, "name");
  g_autofree char *group = ferry_state_dup_resource_string (res->state,
                                                            FERRY_KIND_SECURITY_GROUP, "id");
  g_autofree char *subnet = ferry_state_dup_resource_string (res->state, FERRY_KIND_SUBNET, "id");
  g_autofree char *profile = ferry_state_dup_resource_string (res->state,
                                                              FERRY_KIND_INSTANCE_PROFILE, "id");
  g_autofree char *tags_instance = NULL, *bdm = NULL, *ud = NULL;
  g_autofree char *profile_arg = NULL;
  g_autoptr(json_t) map = NULL;
  const char *missing = key == NULL ? "key pair (ferry keypair)"
                        : group == NULL ? "security group (ferry firewall)"
                                        : NULL;

  if (missing != NULL && !res->dry_run)
    return (ferry_throw (error, FERRY_ERROR_NOT_FOUND,
                         "no %s in %s yet; make it first, or run ferry bootstrap", missing,
                         ferry_state_get_dir (res->state)),
            NULL);
  {
    g_autofree char *a = ferry_res_tag_specifications (res, "instance", TRUE);
    g_autofree char *v = ferry_res_tag_specifications (res, "volume", FALSE);
    g_autoptr(json_t) ja = json_loads (a, 0, NULL);
    g_autoptr(json_t) jv = json_loads (v, 0, NULL);
    json_array_extend (ja, jv);
    tags_instance = json_dumps (ja, JSON_COMPACT);
  }
  map = json_pack ("[{s:s, s:{s:I, s:s, s:b, s:b}}]", "DeviceName", opts->root_device, "Ebs",
                   "VolumeSize", (json_int_t) opts->volume_gb, "VolumeType", "gp3",
                   "DeleteOnTermination", TRUE, "Encrypted", TRUE);
  bdm = json_dumps (map, JSON_COMPACT);
  ud = g_strconcat ("file://", user_data_path, NULL);

  g_strv_builder_add_many (b, "--image-id", opts->ami, "--instance-type", opts->instance_type,
                           "--count", "1", "--key-name", key ? key : "<key-pair>",
                           "--security-group-ids", group ? group : "<security-group-id>",
                           "--block-device-mappings", bdm, "--tag-specifications", tags_instance,
                           "--user-data", ud, "--instance-initiated-shutdown-behavior",
                           "terminate", "--metadata-options",
                           "HttpTokens=required,HttpEndpoint=enabled", "--client-token", token,
                           NULL);
  if (subnet != NULL)
    g_strv_builder_add_many (b, "--subnet-id", subnet, NULL);
  if (profile != NULL)
    {
      profile_arg = g_strconcat ("Name=", profile, NULL);
      g_strv_builder_add_many (b, "--iam-instance-profile", profile_arg, NULL);
    }
  if (opts->spot)
    g_strv_builder_add_many (b, "--instance-market-options",
                             "{\"MarketType\":\"spot\",\"SpotOptions\":{\"SpotInstanceType\":"
                             "\"one-time\",\"InstanceInterruptionBehavior\":\"terminate\"}}",
                             NULL);
  return g_strv_builder_end (b);
}

/* The default VPC and subnet EC2 chose, when the state had none (adopted, never deleted). */
static gboolean
record_network_of (FerryResources *res, json_t *instance, GError **error)
{
  const char *vpc = json_string_value (json_object_get (instance, "VpcId"));
  const char *subnet = json_string_value (json_object_get (instance, "SubnetId"));
  json_t *resource;

  if (vpc != NULL && !ferry_state_has_resource (res->state, FERRY_KIND_VPC)
      && !ferry_res_record (res, FERRY_KIND_VPC, ferry_resource_new (vpc, FALSE), error))
    return FALSE;
  if (subnet == NULL || ferry_state_has_resource (res->state, FERRY_KIND_SUBNET))
    return TRUE;
  resource = ferry_resource_new (subnet, FALSE);
  json_object_set (resource, "az",
                   json_object_get (json_object_get (instance, "Placement"), "AvailabilityZone"));
  return ferry_res_record (res, FERRY_KIND_SUBNET, resource, error);
}

/* EC2 rejects an instance profile for about ten seconds after IAM made it, as an invalid parameter.
 * That code alone is no proof (a bad type is one too), so only a profile made in the last two
 * minutes is waited for. */
static gboolean
profile_not_ready (FerryResources *res, const GError *error)
{
  g_autoptr(json_t) profile = ferry_state_dup_resource (res->state, FERRY_KIND_INSTANCE_PROFILE);
  json_int_t made = json_integer_value (json_object_get (profile, "created_at"));

  return (ferry_aws_error_has_code (error, "InvalidParameterValue")
          || ferry_aws_error_has_code (error, "InvalidParameterCombination"))
         && made > 0 && g_get_real_time () / G_USEC_PER_SEC - made < 120;
}

static json_t *
run_instances (FerryResources *res, const FerryLaunchOptions *opts, GCancellable *cancellable,
               GError **error)
{
  g_autofree char *token = ferry_state_dup_setting_string (res->state, "launch_token");
  g_autofree char *user_data = NULL;
  g_autofree char *ud_path = ferry_state_path (res->state, "user-data.sh");
  g_autofree char *major = NULL;
  g_autofree char *ami = NULL, *root = NULL;
  g_auto(GStrv) args = NULL;
  g_autoptr(json_t) out = NULL;
  gint64 deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  FerryLaunchOptions o = *opts;
  json_t *instance;

  if (o.root_device == NULL)
    {
      if (!ferry_lookup_ami (res, o.ami, &ami, &root, cancellable, error))
        return NULL;
      o.ami = ami;
      o.root_device = root;
    }
  if (!o.snakemake_checked)
    {
      major = ferry_local_snakemake_major (cancellable);
      o.snakemake_major = major;
    }
  opts = &o;
  if (token == NULL)
    token = g_uuid_string_random ();
  user_data = ferry_user_data_render (ferry_res_name (res), opts->max_hours, opts->ssh_user,
                                      opts->snakemake_major, error);
  if (user_data == NULL)
    return NULL;
  if (!res->dry_run
      && (!g_file_set_contents_full (ud_path, user_data, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                     0600, error)
          || !ferry_state_set_setting (res->state, "launch_token", json_string (token), error)))
    return NULL;
  args = run_instances_args (res, opts, token, ud_path, error);
  if (args == NULL)
    return NULL;
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      out = ferry_aws_call (res->aws, "ec2", "run-instances", (const char *const *) args,
                            cancellable, &local_error);
      if (out != NULL)
        break;
      if (!profile_not_ready (res, local_error) || g_get_monotonic_time () > deadline)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      ferry_res_log (res, "the new instance profile is not usable yet; retrying in 5 s");
      if (!ferry_sleep (5000, cancellable, error))
        return NULL;
    }
  if (res->dry_run)
    return json_object ();
  instance = json_array_get (json_object_get (out, "Instances"), 0);
  if (!json_is_string (json_object_get (instance, "InstanceId")))
    return (ferry_res_missing_member (error, "run-instances", "Instances[0].InstanceId"), NULL);
  if (!record_instance (res, instance, opts, error)
      || !ferry_state_set_setting (res->state, "launch_token", json_null (), error)
      || !record_network_of (res, instance, error))
    return NULL;
  ferry_res_log (res, "launched instance %s (%s, %" G_GINT64_FORMAT " GB, terminates itself after %"
                G_GINT64_FORMAT " h)",
           json_string_value (json_object_get (instance, "InstanceId")), opts->instance_type,
           opts->volume_gb, opts->max_hours);
  return json_incref (instance);
}

/* The state's instance when it still lives (a stopped one is started), else run-instances, retrying
 * while a new instance profile is not yet usable; then waits for `running` and records the address.
 * A launch that was cut short (its client token is in the state) is found by tag, not repeated.
 * *out_created tells whether a new instance was launched. */
static gboolean
ensure_instance (FerryResources *res, const FerryLaunchOptions *opts, gboolean *out_created,
                       GCancellable *cancellable, GError **error)
{
  g_autofree char *id = ferry_state_dup_resource_string (res->state, FERRY_KIND_INSTANCE, "id");
  g_autofree char *pending = ferry_state_dup_setting_string (res->state, "launch_token");
  g_autoptr(json_t) instance = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *state_name;

  *out_created = FALSE;
  if (id == NULL && pending != NULL)
    {
      /* A launch was cut short: what it made carries our tag. */
      instance = find_tagged_instance (res, cancellable, error);
      if (instance == NULL)
        return FALSE;
      if (json_object_get (instance, "InstanceId") != NULL)
        {
          if (!record_instance (res, instance, opts, error)
              || !ferry_state_set_setting (res->state, "launch_token", json_null (), error))
            return FALSE;
          g_free (id);
          id = g_strdup (json_string_value (json_object_get (instance, "InstanceId")));
          ferry_res_log (res, "found instance %s from an interrupted launch", id);
        }
      g_clear_pointer (&instance, json_decref);
    }
  if (id != NULL)
    {
      instance = ferry_instance_describe (res->aws, id, cancellable, &local_error);
      if (instance == NULL && !g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      state_name = instance ? ferry_instance_state_name (instance) : "terminated";
      if (g_strcmp0 (state_name, "stopped") == 0 || g_strcmp0 (state_name, "stopping") == 0)
        {
          g_clear_pointer (&instance, json_decref);
          return ferry_instance_change (res->aws, res->state, FERRY_INSTANCE_START,
                                        !res->dry_run, opts->wait_timeout_s, &instance,
                                        cancellable, error);
        }
      if (g_strcmp0 (state_name, "shutting-down") != 0
          && g_strcmp0 (state_name, "terminated") != 0)
        {
          if (g_strcmp0 (state_name, "running") != 0)
            {
              g_clear_pointer (&instance, json_decref);
              instance = ferry_instance_wait_state (res->aws, id, "running", opts->wait_timeout_s,
                                                    cancellable, error);
              if (instance == NULL)
                return FALSE;
            }
          return res->dry_run || ferry_instance_record (res->state, instance, error);
        }
      ferry_res_log (res, "instance %s is %s; launching a new one", id, state_name);
      if (!res->dry_run && !ferry_state_forget (res->state, FERRY_KIND_INSTANCE, error))
        return FALSE;
      g_clear_pointer (&instance, json_decref);
    }

  instance = run_instances (res, opts, cancellable, error);
  if (instance == NULL)
    return FALSE;
  *out_created = TRUE;
  if (res->dry_run)
    return TRUE;
  g_free (id);
  id = g_strdup (json_string_value (json_object_get (instance, "InstanceId")));
  g_clear_pointer (&instance, json_decref);
  instance = ferry_instance_wait_state (res->aws, id, "running", opts->wait_timeout_s,
                                        cancellable, error);
  return instance != NULL && ferry_instance_record (res->state, instance, error);
}

gboolean
ferry_instance_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                       GError **error)
{
  gboolean created = FALSE;

  if (spec->launch == NULL)
    return TRUE;
  if (!ensure_instance (res, spec->launch, &created, cancellable, error))
    return FALSE;
  res->instance_launched = res->instance_launched || created;
  return TRUE;
}

/* --- discover ----------------------------------------------------------------------------------- */

gboolean
ferry_instance_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) reservations = NULL;
  json_t *reservation, *instance;
  size_t i, j;

  reservations = ferry_discovery_describe_tagged (
      d, "describe-instances", "Reservations",
      "Name=instance-state-name,Values=pending,running,shutting-down,stopping,stopped", cancellable,
      error);
  if (reservations == NULL)
    return FALSE;
  json_array_foreach (reservations, i, reservation)
    json_array_foreach (json_object_get (reservation, "Instances"), j, instance)
      {
        const char *id = json_string_value (json_object_get (instance, "InstanceId"));
        json_t *tags = json_object_get (instance, "Tags");
        g_autoptr(GStrvBuilder) volumes = g_strv_builder_new ();
        FerryFound *found;
        json_t *bdm;
        size_t k;

        if (id == NULL || !ferry_discovery_owner_matches (d, ferry_tags_owner (tags)))
          continue;
        found = ferry_found_new (FERRY_KIND_INSTANCE, id);
        found->owner = g_strdup (ferry_tags_owner (tags));
        found->aws_name = g_strdup (ferry_tags_value (tags, "Name"));
        found->state = g_strdup (ferry_instance_state_name (instance));
        found->created_at = ferry_json_time (json_object_get (instance, "LaunchTime"));
        found->detail = ferry_json_dup_string (json_object_get (instance, "InstanceType"));
        found->live = TRUE;
        /* The volumes that go away with the instance. */
        json_array_foreach (json_object_get (instance, "BlockDeviceMappings"), k, bdm)
          {
            json_t *ebs = json_object_get (bdm, "Ebs");
            if (json_is_true (json_object_get (ebs, "DeleteOnTermination"))
                && json_is_string (json_object_get (ebs, "VolumeId")))
              g_strv_builder_add (volumes, json_string_value (json_object_get (ebs, "VolumeId")));
          }
        found->members = g_strv_builder_end (volumes);
        ferry_discovery_add (d, found);
      }
  return TRUE;
}

gboolean
ferry_volume_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) volumes
      = ferry_discovery_describe_tagged (d, "describe-volumes", "Volumes", NULL, cancellable, error);
  json_t *volume;
  size_t i;

  if (volumes == NULL)
    return FALSE;
  json_array_foreach (volumes, i, volume)
    {
      const char *id = json_string_value (json_object_get (volume, "VolumeId"));
      json_t *tags = json_object_get (volume, "Tags");
      json_t *attachment = json_array_get (json_object_get (volume, "Attachments"), 0);
      FerryFound *found;

      if (id == NULL || !ferry_discovery_owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = ferry_found_new (FERRY_KIND_VOLUME, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = g_strdup (ferry_tags_value (tags, "Name"));
      found->state = ferry_json_dup_string (json_object_get (volume, "State"));
      found->created_at = ferry_json_time (json_object_get (volume, "CreateTime"));
      found->size_gb = json_integer_value (json_object_get (volume, "Size"));
      found->detail = g_strdup_printf ("%" G_GINT64_FORMAT " GB", found->size_gb);
      found->parent = ferry_json_dup_string (json_object_get (attachment, "InstanceId"));
      found->delete_on_termination
          = json_is_true (json_object_get (attachment, "DeleteOnTermination"));
      found->live = TRUE;
      ferry_discovery_add (d, found);
    }
  return TRUE;
}

/* --- delete ------------------------------------------------------------------------------------- */

/* One of `instances` lists the volume among those it deletes on termination, or the volume says
 * it goes with the one it is attached to. */
gboolean
ferry_volume_goes_with_instance (FerryFound *volume, GPtrArray *instances)
{
  for (guint i = 0; i < instances->len; i++)
    {
      FerryFound *instance = instances->pdata[i];
      if (!g_str_equal (instance->kind, FERRY_KIND_INSTANCE))
        continue;
      if ((volume->parent == NULL || g_strcmp0 (volume->parent, instance->id) == 0)
          && instance->members != NULL
          && g_strv_contains ((const char *const *) instance->members, volume->id))
        return TRUE;
      if (volume->delete_on_termination && g_strcmp0 (volume->parent, instance->id) == 0)
        return TRUE;
    }
  return FALSE;
}

/* One terminate-instances for them all, then each waited for until terminated. */
gboolean
ferry_instance_delete (FerryTeardown *td, GPtrArray *instances, GCancellable *cancellable,
                       GError **error)
{
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) args = NULL;
  gboolean gone = FALSE;

  if (instances->len == 0)
    return TRUE;
  g_strv_builder_add (b, "--instance-ids");
  for (guint i = 0; i < instances->len; i++)
    g_strv_builder_add (b, ((FerryFound *) instances->pdata[i])->id);
  args = g_strv_builder_end (b);
  if (!ferry_td_delete_call (td, "ec2", "terminate-instances", (const char *const *) args, NULL, &gone,
                    cancellable, error))
    return FALSE;
  /* One unknown id fails the whole call: then each one on its own. */
  if (gone && instances->len > 1)
    for (guint i = 0; i < instances->len; i++)
      {
        const char *one[] = { "--instance-ids", ((FerryFound *) instances->pdata[i])->id, NULL };
        if (!ferry_td_delete_call (td, "ec2", "terminate-instances", one, NULL, NULL, cancellable, error))
          return FALSE;
      }

  for (guint i = 0; i < instances->len; i++)
    {
      FerryFound *item = instances->pdata[i];
      g_autoptr(GError) local_error = NULL;
      g_autoptr(json_t) last = NULL;

      if (td->aws->dry_run)
        continue;
      ferry_td_log (td, "waiting for instance %s to terminate", item->id);
      last = ferry_instance_wait_state (td->aws, item->id, "terminated", td->timeout_s, cancellable,
                                        &local_error);
      if (last == NULL && !g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      ferry_td_log_done (td, item, "terminated", FALSE);
      if (!ferry_td_forget (td, item, error))
        return FALSE;
    }
  return TRUE;
}

/* The volumes that did not go with an instance this teardown terminated. */
gboolean
ferry_volume_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                     GError **error)
{
  static const char *const volume_busy[] = { "VolumeInUse", "IncorrectState", NULL };
  g_autoptr(GPtrArray) terminated = g_ptr_array_new ();

  for (guint i = 0; td->plan != NULL && i < td->plan->len; i++)
    {
      FerryFound *item = td->plan->pdata[i];
      if (!item->keep && g_str_equal (item->kind, FERRY_KIND_INSTANCE))
        g_ptr_array_add (terminated, item);
    }
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      const char *args[] = { "--volume-id", item->id, NULL };

      if (!ferry_volume_goes_with_instance (item, terminated)
          && !ferry_td_delete_item (td, item, "ec2", "delete-volume", args, volume_busy,
                                    cancellable, error))
        return FALSE;
    }
  return TRUE;
}
