/* Finding what ferry made (by state, tag and name) and deleting it in reverse dependency order. */
#include <errno.h>
#include <glib/gstdio.h>

#include "instance.h"
#include "spawn.h"
#include "teardown.h"
#include "pool.h"


/* --- found resources --- */

void
ferry_found_free (FerryFound *found)
{
  if (found == NULL)
    return;
  g_free (found->kind);
  g_free (found->id);
  g_free (found->aws_name);
  g_free (found->owner);
  g_free (found->state);
  g_clear_pointer (&found->created_at, g_date_time_unref);
  g_free (found->parent);
  g_free (found->policy);
  g_strfreev (found->members);
  g_free (found->detail);
  g_free (found->note);
  g_free (found);
}

static FerryFound *
found_new (const char *kind, const char *id)
{
  FerryFound *found = g_new0 (FerryFound, 1);

  found->kind = g_strdup (kind);
  found->id = g_strdup (id);
  return found;
}

static GDateTime *
parse_time (json_t *value)
{
  if (!json_is_string (value))
    return NULL;
  return g_date_time_new_from_iso8601 (json_string_value (value), NULL);
}

static char *
dup_json_string (json_t *value)
{
  return g_strdup (json_string_value (value));
}

/* The value of `key` in an AWS Tags array ([{Key, Value}]), or NULL. */
static gint
found_compare (gconstpointer a, gconstpointer b)
{
  const FerryFound *fa = *(FerryFound *const *) a;
  const FerryFound *fb = *(FerryFound *const *) b;
  guint ra = ferry_kind_rank (fa->kind), rb = ferry_kind_rank (fb->kind);

  if (ra != rb)
    return ra < rb ? -1 : 1;
  return g_strcmp0 (fa->id, fb->id);
}

char *
ferry_format_age (GDateTime *t, GDateTime *now)
{
  GTimeSpan span;
  gint64 s;

  if (t == NULL || now == NULL)
    return g_strdup ("-");
  span = g_date_time_difference (now, t);
  s = MAX (span / G_TIME_SPAN_SECOND, 0);
  if (s < 120)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", s);
  if (s < 2 * 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", s / 60);
  if (s < 2 * 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h", s / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT "d", s / 86400);
}

void
ferry_bill_add (FerryBill *bill, const FerryFound *found)
{
  if (g_str_equal (found->kind, FERRY_KIND_INSTANCE))
    {
      if (g_strcmp0 (found->state, "stopped") == 0 || g_strcmp0 (found->state, "stopping") == 0)
        bill->stopped_instances++;
      else
        bill->running_instances++;
    }
  else if (g_str_equal (found->kind, FERRY_KIND_VOLUME))
    {
      bill->volumes++;
      bill->volume_gb += found->size_gb;
    }
  else if (g_str_equal (found->kind, FERRY_KIND_BUCKET))
    bill->buckets++;
  else
    bill->free_items++;
}

char *
ferry_bill_describe (const FerryBill *bill)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *joined = NULL;

  if (bill->running_instances > 0)
    g_ptr_array_add (parts, g_strdup_printf ("%u running instance%s bill%s by the second",
                                             bill->running_instances,
                                             bill->running_instances == 1 ? "" : "s",
                                             bill->running_instances == 1 ? "s" : ""));
  if (bill->stopped_instances > 0)
    g_ptr_array_add (
        parts, g_strdup_printf ("%u stopped instance%s (compute does not bill, %s volume%s do%s)",
                                bill->stopped_instances, bill->stopped_instances == 1 ? "" : "s",
                                bill->stopped_instances == 1 ? "its" : "their",
                                bill->stopped_instances == 1 ? "" : "s",
                                bill->stopped_instances == 1 ? "es" : ""));
  if (bill->volumes > 0)
    g_ptr_array_add (parts, g_strdup_printf ("%u volume%s (%" G_GINT64_FORMAT
                                             " GB) bill%s by the GB-month",
                                             bill->volumes, bill->volumes == 1 ? "" : "s",
                                             bill->volume_gb, bill->volumes == 1 ? "s" : ""));
  if (bill->buckets > 0)
    g_ptr_array_add (
        parts, g_strdup_printf ("%u bucket%s bill%s for what %s store%s", bill->buckets,
                                bill->buckets == 1 ? "" : "s", bill->buckets == 1 ? "s" : "",
                                bill->buckets == 1 ? "it" : "they", bill->buckets == 1 ? "s" : ""));
  if (parts->len == 0)
    return g_strdup (
        bill->free_items > 0
            ? "nothing listed bills (key pairs, security groups, VPCs, roles and profiles are free)"
            : "nothing is billing");
  g_ptr_array_add (parts, NULL);
  joined = g_strjoinv ("; ", (char **) parts->pdata);
  return g_steal_pointer (&joined);
}

/* --- running independent pieces at once --- */

typedef gboolean (*TaskFunc) (gpointer data, GCancellable *cancellable, GError **error);

typedef struct
{
  TaskFunc fn;
  gpointer data;
} Task;

/* Runs the tasks through the pool, at most max_parallel at once, every one to its end: the errors
 * of every failed task are joined into one. */
static gboolean
run_tasks (Task *tasks, guint n_tasks, guint max_parallel, GCancellable *cancellable,
           GError **error)
{
  g_autoptr(FerryPool) pool = ferry_pool_new (max_parallel, cancellable);

  ferry_pool_set_keep_going (pool, TRUE);
  for (guint i = 0; i < n_tasks; i++)
    {
      g_autofree char *name = g_strdup_printf ("task %u", i);
      ferry_pool_add (pool, name, tasks[i].fn, tasks[i].data, NULL, NULL);
    }
  return ferry_pool_run (pool, error);
}

/* --- discovery --- */

typedef struct
{
  FerryAws *aws;
  const char *name; /* NULL: any ferry name */
  GStrv role_names; /* name-addressed lookups (with a name) */
  GStrv profile_names;
  gboolean keep_untagged; /* name-addressed hits come back even when not tagged as ours */
  GMutex lock;
  GPtrArray *found;
} Discovery;

static void
discovery_add (Discovery *d, FerryFound *found)
{
  g_mutex_lock (&d->lock);
  g_ptr_array_add (d->found, found);
  g_mutex_unlock (&d->lock);
}

static gboolean
owner_matches (Discovery *d, const char *owner)
{
  return owner != NULL && (d->name == NULL || g_str_equal (owner, d->name));
}

static json_t *
describe_tagged (Discovery *d, const char *operation, const char *member, const char *extra,
                 GCancellable *cancellable, GError **error)
{
  return ferry_kind_describe_tagged (d->aws, operation, member, d->name, extra, cancellable, error);
}

static gboolean
discover_instances (gpointer data, GCancellable *cancellable, GError **error)
{
  Discovery *d = data;
  g_autoptr(json_t) reservations = NULL;
  json_t *reservation, *instance;
  size_t i, j;

  reservations = describe_tagged (
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

        if (id == NULL || !owner_matches (d, ferry_tags_owner (tags)))
          continue;
        found = found_new (FERRY_KIND_INSTANCE, id);
        found->owner = g_strdup (ferry_tags_owner (tags));
        found->aws_name = g_strdup (ferry_tags_value (tags, "Name"));
        found->state = g_strdup (ferry_instance_state_name (instance));
        found->created_at = parse_time (json_object_get (instance, "LaunchTime"));
        found->detail = dup_json_string (json_object_get (instance, "InstanceType"));
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
        discovery_add (d, found);
      }
  return TRUE;
}

static gboolean
discover_volumes (gpointer data, GCancellable *cancellable, GError **error)
{
  Discovery *d = data;
  g_autoptr(json_t) volumes
      = describe_tagged (d, "describe-volumes", "Volumes", NULL, cancellable, error);
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

      if (id == NULL || !owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = found_new (FERRY_KIND_VOLUME, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = g_strdup (ferry_tags_value (tags, "Name"));
      found->state = dup_json_string (json_object_get (volume, "State"));
      found->created_at = parse_time (json_object_get (volume, "CreateTime"));
      found->size_gb = json_integer_value (json_object_get (volume, "Size"));
      found->detail = g_strdup_printf ("%" G_GINT64_FORMAT " GB", found->size_gb);
      found->parent = dup_json_string (json_object_get (attachment, "InstanceId"));
      found->delete_on_termination
          = json_is_true (json_object_get (attachment, "DeleteOnTermination"));
      found->live = TRUE;
      discovery_add (d, found);
    }
  return TRUE;
}

static gboolean
discover_groups (gpointer data, GCancellable *cancellable, GError **error)
{
  Discovery *d = data;
  g_autoptr(json_t) groups
      = describe_tagged (d, "describe-security-groups", "SecurityGroups", NULL, cancellable, error);
  json_t *group;
  size_t i;

  if (groups == NULL)
    return FALSE;
  json_array_foreach (groups, i, group)
    {
      const char *id = json_string_value (json_object_get (group, "GroupId"));
      json_t *tags = json_object_get (group, "Tags");
      FerryFound *found;

      if (id == NULL || !owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = found_new (FERRY_KIND_SECURITY_GROUP, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = dup_json_string (json_object_get (group, "GroupName"));
      found->parent = dup_json_string (json_object_get (group, "VpcId"));
      found->detail = g_strdup (found->parent);
      found->live = TRUE;
      discovery_add (d, found);
    }
  return TRUE;
}

static gboolean
discover_key_pairs (gpointer data, GCancellable *cancellable, GError **error)
{
  Discovery *d = data;
  g_autoptr(json_t) keys
      = describe_tagged (d, "describe-key-pairs", "KeyPairs", NULL, cancellable, error);
  json_t *key;
  size_t i;

  if (keys == NULL)
    return FALSE;
  json_array_foreach (keys, i, key)
    {
      const char *id = json_string_value (json_object_get (key, "KeyPairId"));
      json_t *tags = json_object_get (key, "Tags");
      FerryFound *found;

      if (id == NULL || !owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = found_new (FERRY_KIND_KEY_PAIR, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = dup_json_string (json_object_get (key, "KeyName"));
      found->created_at = parse_time (json_object_get (key, "CreateTime"));
      found->detail = dup_json_string (json_object_get (key, "KeyType"));
      found->live = TRUE;
      discovery_add (d, found);
    }
  return TRUE;
}

static gboolean
discover_vpcs (gpointer data, GCancellable *cancellable, GError **error)
{
  Discovery *d = data;
  g_autoptr(json_t) vpcs = describe_tagged (d, "describe-vpcs", "Vpcs", NULL, cancellable, error);
  json_t *vpc;
  size_t i;

  if (vpcs == NULL)
    return FALSE;
  json_array_foreach (vpcs, i, vpc)
    {
      const char *id = json_string_value (json_object_get (vpc, "VpcId"));
      json_t *tags = json_object_get (vpc, "Tags");
      FerryFound *found;

      if (id == NULL || !owner_matches (d, ferry_tags_owner (tags)))
        continue;
      found = found_new (FERRY_KIND_VPC, id);
      found->owner = g_strdup (ferry_tags_owner (tags));
      found->aws_name = g_strdup (ferry_tags_value (tags, "Name"));
      found->state = dup_json_string (json_object_get (vpc, "State"));
      found->is_default = json_is_true (json_object_get (vpc, "IsDefault"));
      found->detail = dup_json_string (json_object_get (vpc, "CidrBlock"));
      found->live = TRUE;
      discovery_add (d, found);
    }
  return TRUE;
}

/* One name-addressed lookup: a bucket's tags, a role, an instance profile. */
typedef struct
{
  Discovery *d;
  const char *kind;
  char *name;
  GDateTime *created_at;
} Lookup;

static void
lookup_clear (Lookup *l)
{
  g_free (l->name);
  g_clear_pointer (&l->created_at, g_date_time_unref);
}

static gboolean
lookup_bucket (Lookup *l, GCancellable *cancellable, GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *owner = NULL;
  FerryFound *found;

  /* Untagged, gone meanwhile (NoSuchBucket), or closed to us by its policy: not ferry's. Anything
   * else (a transient failure) must not hide a bucket that is. */
  if (!ferry_kind_bucket_owner (l->d->aws, l->name, &owner, cancellable, &local_error))
    {
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND)
          || ferry_aws_error_has_code (local_error, "AccessDenied"))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "reading the tags of bucket %s: ", l->name);
      return FALSE;
    }
  if (!owner_matches (l->d, owner))
    return TRUE;
  found = found_new (FERRY_KIND_BUCKET, l->name);
  found->owner = g_strdup (owner);
  found->created_at = l->created_at ? g_date_time_ref (l->created_at) : NULL;
  found->live = TRUE;
  discovery_add (l->d, found);
  return TRUE;
}

static gboolean
lookup_iam (Lookup *l, GCancellable *cancellable, GError **error)
{
  gboolean is_role = g_str_equal (l->kind, FERRY_KIND_ROLE);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) obj = ferry_kind_iam_get (l->d->aws, l->kind, l->name, cancellable, &local_error);
  const char *owner;
  FerryFound *found;

  if (obj == NULL)
    {
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  owner = ferry_tags_value (json_object_get (obj, "Tags"), FERRY_TAG_KEY);
  if (!owner_matches (l->d, owner) && !(l->d->keep_untagged && l->d->name != NULL))
    return TRUE;
  found = found_new (l->kind, l->name);
  found->owner = g_strdup (owner);
  found->aws_name = g_strdup (l->name);
  found->created_at = parse_time (json_object_get (obj, "CreateDate"));
  found->live = TRUE;
  if (is_role)
    found->detail = dup_json_string (json_object_get (obj, "Arn"));
  else
    {
      g_autoptr(GStrvBuilder) roles = g_strv_builder_new ();
      json_t *role;
      size_t i;

      json_array_foreach (json_object_get (obj, "Roles"), i, role)
        if (json_is_string (json_object_get (role, "RoleName")))
          g_strv_builder_add (roles, json_string_value (json_object_get (role, "RoleName")));
      found->members = g_strv_builder_end (roles);
      found->detail = g_strjoinv (",", found->members);
    }
  discovery_add (l->d, found);
  return TRUE;
}

static gboolean
lookup_run (gpointer data, GCancellable *cancellable, GError **error)
{
  Lookup *l = data;

  if (g_str_equal (l->kind, FERRY_KIND_BUCKET))
    return lookup_bucket (l, cancellable, error);
  return lookup_iam (l, cancellable, error);
}

static gboolean
run_lookups (GArray *lookups, GCancellable *cancellable, GError **error)
{
  g_autofree Task *tasks = g_new0 (Task, lookups->len + 1);

  for (guint i = 0; i < lookups->len; i++)
    {
      tasks[i].fn = lookup_run;
      tasks[i].data = &g_array_index (lookups, Lookup, i);
    }
  return run_tasks (tasks, lookups->len, 4, cancellable, error);
}

static gboolean
discover_buckets (gpointer data, GCancellable *cancellable, GError **error)
{
  Discovery *d = data;
  g_autoptr(json_t) root
      = ferry_aws_call (d->aws, "s3api", "list-buckets", NULL, cancellable, error);
  g_autoptr(GArray) lookups = g_array_new (FALSE, TRUE, sizeof (Lookup));
  json_t *buckets = NULL, *bucket;
  size_t i;

  g_array_set_clear_func (lookups, (GDestroyNotify) lookup_clear);
  if (root == NULL)
    return FALSE;
  if (!ferry_json_unpack (root, "aws s3api list-buckets", error, "{s:o}", "Buckets", &buckets))
    return FALSE;
  /* A bucket's tags need one call per bucket: only the tag says whether it is ferry's. */
  json_array_foreach (buckets, i, bucket)
    {
      Lookup l = { d, FERRY_KIND_BUCKET, dup_json_string (json_object_get (bucket, "Name")),
                   parse_time (json_object_get (bucket, "CreationDate")) };
      if (l.name == NULL)
        {
          lookup_clear (&l);
          continue;
        }
      g_array_append_val (lookups, l);
    }
  return run_lookups (lookups, cancellable, error);
}

/* With a name, the roles or profiles to look at are known; for any name, the ones whose name
 * follows ferry's pattern (<NAME>-ec2, <NAME>-profile) are looked at for the tag. */
static gboolean
discover_iam (Discovery *d, const char *kind, GCancellable *cancellable, GError **error)
{
  gboolean is_role = g_str_equal (kind, FERRY_KIND_ROLE);
  g_autoptr(GArray) lookups = g_array_new (FALSE, TRUE, sizeof (Lookup));

  g_array_set_clear_func (lookups, (GDestroyNotify) lookup_clear);
  if (d->name != NULL)
    {
      GStrv names = is_role ? d->role_names : d->profile_names;
      for (guint i = 0; names != NULL && names[i] != NULL; i++)
        {
          Lookup l = { d, kind, g_strdup (names[i]), NULL };
          g_array_append_val (lookups, l);
        }
    }
  else
    {
      const char *list_op = is_role ? "list-roles" : "list-instance-profiles";
      const char *member = is_role ? "Roles" : "InstanceProfiles";
      const char *name_key = is_role ? "RoleName" : "InstanceProfileName";
      const char *suffix = is_role ? "-ec2" : "-profile";
      g_autofree char *what = g_strconcat ("aws iam ", list_op, NULL);
      g_autoptr(json_t) root = ferry_aws_call (d->aws, "iam", list_op, NULL, cancellable, error);
      json_t *items = NULL, *item;
      size_t i;

      if (root == NULL)
        return FALSE;
      if (!ferry_json_unpack (root, what, error, "{s:o}", member, &items))
        return FALSE;
      json_array_foreach (items, i, item)
        {
          const char *n = json_string_value (json_object_get (item, name_key));
          if (n != NULL && g_str_has_suffix (n, suffix))
            {
              Lookup l = { d, kind, g_strdup (n), NULL };
              g_array_append_val (lookups, l);
            }
        }
    }
  return run_lookups (lookups, cancellable, error);
}

static gboolean
discover_roles (gpointer data, GCancellable *cancellable, GError **error)
{
  return discover_iam (data, FERRY_KIND_ROLE, cancellable, error);
}

static gboolean
discover_profiles (gpointer data, GCancellable *cancellable, GError **error)
{
  return discover_iam (data, FERRY_KIND_INSTANCE_PROFILE, cancellable, error);
}

static GPtrArray *
discover (FerryAws *aws, const char *name, GStrv role_names, GStrv profile_names,
          gboolean keep_untagged, GCancellable *cancellable, GError **error)
{
  Discovery d = { aws, name, role_names, profile_names, keep_untagged };
  Task tasks[] = {
    { discover_instances, &d }, { discover_volumes, &d },
    { discover_groups, &d },    { discover_key_pairs, &d },
    { discover_vpcs, &d },      { discover_buckets, &d },
    { discover_roles, &d },     { discover_profiles, &d },
  };
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_found_free);
  gboolean ok;

  g_mutex_init (&d.lock);
  d.found = found;
  ok = run_tasks (tasks, G_N_ELEMENTS (tasks), G_N_ELEMENTS (tasks), cancellable, error);
  g_mutex_clear (&d.lock);
  if (!ok)
    {
      g_prefix_error (error, "looking for ferry's resources: ");
      return NULL;
    }
  g_ptr_array_sort (found, found_compare);
  return g_steal_pointer (&found);
}

GPtrArray *
ferry_discover (FerryAws *aws, const char *name, GCancellable *cancellable, GError **error)
{
  g_autofree char *role = name ? g_strconcat (name, "-ec2", NULL) : NULL;
  g_autofree char *profile = name ? g_strconcat (name, "-profile", NULL) : NULL;
  char *roles[] = { role, NULL };
  char *profiles[] = { profile, NULL };

  return discover (aws, name, roles, profiles, FALSE, cancellable, error);
}

/* --- teardown --- */

struct _FerryTeardown
{
  FerryAws *aws;
  FerryState *state;
  gboolean force;
  FerryLogFunc log;
  gpointer log_data;
  guint timeout_s;
};

FerryTeardown *
ferry_teardown_new (FerryAws *aws, FerryState *state)
{
  FerryTeardown *td = g_new0 (FerryTeardown, 1);

  td->aws = aws;
  td->state = state;
  td->timeout_s = 600;
  return td;
}

void
ferry_teardown_free (FerryTeardown *td)
{
  g_free (td);
}

void
ferry_teardown_set_force (FerryTeardown *td, gboolean force)
{
  td->force = force;
}

void
ferry_teardown_set_log (FerryTeardown *td, FerryLogFunc log, gpointer log_data)
{
  td->log = log;
  td->log_data = log_data;
}

void
ferry_teardown_set_timeout (FerryTeardown *td, guint timeout_s)
{
  td->timeout_s = timeout_s;
}

static void td_log (FerryTeardown *td, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
td_log (FerryTeardown *td, const char *fmt, ...)
{
  g_autofree char *line = NULL;
  va_list ap;

  if (td->log == NULL)
    return;
  va_start (ap, fmt);
  line = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  td->log (line, td->log_data);
}

static gboolean
is_name_addressed (const char *kind)
{
  /* Deleted by a name someone else could reuse: only with ferry's tag seen on it. */
  return g_str_equal (kind, FERRY_KIND_KEY_PAIR) || g_str_equal (kind, FERRY_KIND_ROLE)
         || g_str_equal (kind, FERRY_KIND_INSTANCE_PROFILE);
}

static FerryFound *
plan_find (GPtrArray *plan, const char *kind, const char *id)
{
  for (guint i = 0; i < plan->len; i++)
    {
      FerryFound *item = plan->pdata[i];
      if (g_str_equal (item->kind, kind) && g_strcmp0 (item->id, id) == 0)
        return item;
    }
  return NULL;
}

static void
merge_live (FerryFound *item, FerryFound *live)
{
  item->live = TRUE;
  g_free (item->owner);
  item->owner = g_strdup (live->owner);
  if (live->aws_name != NULL)
    {
      g_free (item->aws_name);
      item->aws_name = g_strdup (live->aws_name);
    }
  if (live->state != NULL)
    {
      g_free (item->state);
      item->state = g_strdup (live->state);
    }
  if (item->created_at == NULL && live->created_at != NULL)
    item->created_at = g_date_time_ref (live->created_at);
  if (live->members != NULL)
    {
      g_strfreev (item->members);
      item->members = g_strdupv (live->members);
    }
  g_free (item->parent);
  item->parent = g_strdup (live->parent);
  g_free (item->detail);
  item->detail = g_strdup (live->detail);
  item->is_default = live->is_default;
  item->size_gb = live->size_gb;
  item->delete_on_termination = live->delete_on_termination;
}

static gboolean
volume_goes_with_instance (FerryFound *volume, GPtrArray *instances)
{
  for (guint i = 0; i < instances->len; i++)
    {
      FerryFound *instance = instances->pdata[i];
      if (g_str_equal (instance->kind, FERRY_KIND_INSTANCE)
          && (volume->parent == NULL || g_strcmp0 (volume->parent, instance->id) == 0)
          && instance->members != NULL
          && g_strv_contains ((const char *const *) instance->members, volume->id))
        return TRUE;
    }
  return volume->delete_on_termination && volume->parent != NULL
         && plan_find (instances, FERRY_KIND_INSTANCE, volume->parent) != NULL;
}

static void
add_name (GStrvBuilder *b, GHashTable *seen, const char *n)
{
  if (n != NULL && g_hash_table_add (seen, g_strdup (n)))
    g_strv_builder_add (b, n);
}

GPtrArray *
ferry_teardown_merge (const char *name, json_t *resources, GPtrArray *found, const char *pem_path)
{
  g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_found_free);
  const char *kind;
  json_t *res;

  json_object_foreach (resources, kind, res)
    {
      FerryFound *item = found_new (kind, json_string_value (json_object_get (res, "id")));
      item->from_state = TRUE;
      item->adopted = !json_is_true (json_object_get (res, "created"));
      item->aws_name = dup_json_string (json_object_get (res, "name"));
      item->policy = dup_json_string (json_object_get (res, "policy"));
      item->state = dup_json_string (json_object_get (res, "state"));
      g_ptr_array_add (plan, item);
    }

  for (guint i = 0; found != NULL && i < found->len; i++)
    {
      FerryFound *live = found->pdata[i];
      FerryFound *item = plan_find (plan, live->kind, live->id);

      if (item != NULL)
        merge_live (item, live);
      else if (g_strcmp0 (live->owner, name) == 0)
        g_ptr_array_add (plan, g_steal_pointer (&found->pdata[i]));
    }

  for (guint i = 0; i < plan->len; i++)
    {
      FerryFound *item = plan->pdata[i];

      if (item->adopted)
        {
          item->keep = TRUE;
          item->note = g_strdup ("adopted, not created by ferry");
        }
      else if (g_str_equal (item->kind, FERRY_KIND_SUBNET) && !item->from_state)
        item->keep = TRUE;
      else if (is_name_addressed (item->kind) && g_strcmp0 (item->owner, name) != 0)
        {
          item->keep = TRUE;
          item->note
              = g_strdup (item->live ? "exists without ferry's tag: left alone" : "already gone");
        }
      else if (g_str_equal (item->kind, FERRY_KIND_VOLUME)
               && volume_goes_with_instance (item, plan))
        item->note = g_strdup ("deleted with its instance");
      else if (g_str_equal (item->kind, FERRY_KIND_VPC) && !item->from_state && item->is_default)
        {
          /* Tagged, but the default VPC is deleted only when the state says ferry made it. */
          item->keep = TRUE;
          item->note = g_strdup ("the default VPC: left alone");
        }
    }

  if (pem_path != NULL && g_file_test (pem_path, G_FILE_TEST_EXISTS))
    g_ptr_array_add (plan, found_new (FERRY_KIND_PEM, pem_path));

  g_ptr_array_sort (plan, found_compare);
  return g_steal_pointer (&plan);
}

GPtrArray *
ferry_teardown_plan (FerryTeardown *td, GCancellable *cancellable, GError **error)
{
  const char *name = ferry_state_get_name (td->state);
  g_autoptr(json_t) root = ferry_state_dup_root (td->state);
  json_t *resources = json_object_get (root, "resources");
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GStrvBuilder) roles = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) profiles = g_strv_builder_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto(GStrv) role_names = NULL;
  g_auto(GStrv) profile_names = NULL;
  g_autofree char *role = g_strconcat (name, "-ec2", NULL);
  g_autofree char *profile = g_strconcat (name, "-profile", NULL);
  g_autofree char *pem = ferry_state_pem_path (td->state);

  add_name (roles, seen, role);
  add_name (
      roles, seen,
      json_string_value (json_object_get (json_object_get (resources, FERRY_KIND_ROLE), "id")));
  add_name (profiles, seen, profile);
  add_name (profiles, seen,
            json_string_value (
                json_object_get (json_object_get (resources, FERRY_KIND_INSTANCE_PROFILE), "id")));
  role_names = g_strv_builder_end (roles);
  profile_names = g_strv_builder_end (profiles);

  found = discover (td->aws, name, role_names, profile_names, TRUE, cancellable, error);
  if (found == NULL)
    return NULL;
  return ferry_teardown_merge (name, resources, found, pem);
}

char *
ferry_teardown_item_describe (const FerryFound *item)
{
  const char *label = ferry_kind_label (item->kind);
  g_autoptr(GString) s = g_string_new (NULL);
  g_autoptr(GPtrArray) extra = g_ptr_array_new ();

  if (item->keep)
    g_string_append (s, "keep   ");
  else if (g_str_equal (item->kind, FERRY_KIND_INSTANCE))
    g_string_append (s, "terminate ");
  else if (g_str_equal (item->kind, FERRY_KIND_PEM))
    g_string_append (s, "remove ");
  else
    g_string_append (s, "delete ");
  g_string_append_printf (s, "%s %s", label, item->id);

  if (item->aws_name != NULL && g_strcmp0 (item->aws_name, item->id) != 0)
    g_ptr_array_add (extra, item->aws_name);
  if (item->state != NULL)
    g_ptr_array_add (extra, item->state);
  if (item->note != NULL)
    g_ptr_array_add (extra, item->note);
  else if (!item->live && !g_str_equal (item->kind, FERRY_KIND_PEM))
    g_ptr_array_add (extra, (gpointer) "in the state only");
  if (extra->len > 0)
    {
      g_ptr_array_add (extra, NULL);
      g_autofree char *joined = g_strjoinv (", ", (char **) extra->pdata);
      g_string_append_printf (s, " (%s)", joined);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* --- deleting --- */

static guint
poll_ms (void)
{
  const char *env = g_getenv ("FERRY_POLL_MS");
  guint ms = env ? (guint) g_ascii_strtoull (env, NULL, 10) : 2000;
  return MAX (ms, 1);
}

/* Runs one deleting call. A not-found answer means it is already gone (*out_gone). While AWS
 * answers one of `retry_codes` (a dependency still going away), the call is retried with backoff
 * until the timeout. */
static gboolean
delete_call (FerryTeardown *td, const char *service, const char *operation, const char *const *args,
             const char *const *retry_codes, gboolean *out_gone, GCancellable *cancellable,
             GError **error)
{
  guint interval_ms = poll_ms ();
  gint64 deadline = g_get_monotonic_time () + (gint64) td->timeout_s * G_USEC_PER_SEC;
  gboolean told = FALSE;

  if (out_gone)
    *out_gone = FALSE;
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;
      g_autoptr(json_t) root
          = ferry_aws_call (td->aws, service, operation, args, cancellable, &local_error);
      gboolean retry = FALSE;

      if (root != NULL)
        return TRUE;
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          if (out_gone)
            *out_gone = TRUE;
          return TRUE;
        }
      for (guint i = 0; retry_codes != NULL && retry_codes[i] != NULL; i++)
        retry = retry || ferry_aws_error_has_code (local_error, retry_codes[i]);
      if (!retry || g_get_monotonic_time () + (gint64) interval_ms * 1000 > deadline)
        {
          if (retry)
            g_prefix_error (&local_error, "still refused after %u s: ", td->timeout_s);
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (!told)
        {
          const char *code = ferry_aws_error_code (local_error);
          td_log (td, "aws %s %s %s refused (%s); retrying for up to %u s", service, operation,
                  args[1] ? args[1] : "", code ? code : "busy", td->timeout_s);
          told = TRUE;
        }
      if (!ferry_sleep (interval_ms, cancellable, error))
        return FALSE;
      interval_ms = MIN (interval_ms * 3 / 2, 15000);
    }
}

/* Forgets the item from the state if the state holds this very resource. */
static gboolean
forget_item (FerryTeardown *td, FerryFound *item, GError **error)
{
  g_autofree char *id = NULL;

  if (td->aws->dry_run || !item->from_state)
    return TRUE;
  id = ferry_state_dup_resource_string (td->state, item->kind, "id");
  if (g_strcmp0 (id, item->id) != 0)
    return TRUE;
  return ferry_state_forget (td->state, item->kind, error);
}

static gboolean
forget_kept (FerryTeardown *td, GPtrArray *items, GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      if (item->keep && !forget_item (td, item, error))
        return FALSE;
    }
  return TRUE;
}

static void
log_done (FerryTeardown *td, FerryFound *item, const char *verb, gboolean gone)
{
  if (td->aws->dry_run)
    return;
  td_log (td, "%s %s %s%s%s%s", gone ? "already gone:" : verb, ferry_kind_label (item->kind),
          item->id, item->aws_name && g_strcmp0 (item->aws_name, item->id) != 0 ? " (" : "",
          item->aws_name && g_strcmp0 (item->aws_name, item->id) != 0 ? item->aws_name : "",
          item->aws_name && g_strcmp0 (item->aws_name, item->id) != 0 ? ")" : "");
}

typedef struct
{
  FerryTeardown *td;
  GPtrArray *items; /* borrowed from the plan */
} Chain;

static gboolean
terminate_instances (FerryTeardown *td, GPtrArray *instances, GCancellable *cancellable,
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
  if (!delete_call (td, "ec2", "terminate-instances", (const char *const *) args, NULL, &gone,
                    cancellable, error))
    return FALSE;
  /* One unknown id fails the whole call: then each one on its own. */
  if (gone && instances->len > 1)
    for (guint i = 0; i < instances->len; i++)
      {
        const char *one[] = { "--instance-ids", ((FerryFound *) instances->pdata[i])->id, NULL };
        if (!delete_call (td, "ec2", "terminate-instances", one, NULL, NULL, cancellable, error))
          return FALSE;
      }

  for (guint i = 0; i < instances->len; i++)
    {
      FerryFound *item = instances->pdata[i];
      g_autoptr(GError) local_error = NULL;
      g_autoptr(json_t) last = NULL;

      if (td->aws->dry_run)
        continue;
      td_log (td, "waiting for instance %s to terminate", item->id);
      last = ferry_instance_wait_state (td->aws, item->id, "terminated", td->timeout_s, cancellable,
                                        &local_error);
      if (last == NULL && !g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      log_done (td, item, "terminated", FALSE);
      if (!forget_item (td, item, error))
        return FALSE;
    }
  return TRUE;
}

/* A VPC ferry created: its internet gateways and subnets go first. */
static gboolean
delete_vpc (FerryTeardown *td, FerryFound *item, GCancellable *cancellable, GError **error)
{
  static const char *const dependency[] = { "DependencyViolation", NULL };
  g_autofree char *attached = g_strdup_printf ("Name=attachment.vpc-id,Values=%s", item->id);
  g_autofree char *in_vpc = g_strdup_printf ("Name=vpc-id,Values=%s", item->id);
  const char *igw_args[] = { "--filters", attached, NULL };
  const char *subnet_args[] = { "--filters", in_vpc, NULL };
  const char *vpc_args[] = { "--vpc-id", item->id, NULL };
  g_autoptr(json_t) igws = NULL;
  g_autoptr(json_t) subnets = NULL;
  json_t *igw, *subnet;
  gboolean gone = FALSE;
  size_t i;

  igws
      = ferry_aws_call (td->aws, "ec2", "describe-internet-gateways", igw_args, cancellable, error);
  if (igws == NULL)
    return FALSE;
  json_array_foreach (json_object_get (igws, "InternetGateways"), i, igw)
    {
      const char *id = json_string_value (json_object_get (igw, "InternetGatewayId"));
      const char *detach[] = { "--internet-gateway-id", id, "--vpc-id", item->id, NULL };
      const char *del[] = { "--internet-gateway-id", id, NULL };

      if (id == NULL)
        continue;
      if (!delete_call (td, "ec2", "detach-internet-gateway", detach, dependency, NULL, cancellable,
                        error)
          || !delete_call (td, "ec2", "delete-internet-gateway", del, dependency, NULL, cancellable,
                           error))
        return FALSE;
    }
  subnets = ferry_aws_call (td->aws, "ec2", "describe-subnets", subnet_args, cancellable, error);
  if (subnets == NULL)
    return FALSE;
  json_array_foreach (json_object_get (subnets, "Subnets"), i, subnet)
    {
      const char *id = json_string_value (json_object_get (subnet, "SubnetId"));
      const char *del[] = { "--subnet-id", id, NULL };

      if (id != NULL
          && !delete_call (td, "ec2", "delete-subnet", del, dependency, NULL, cancellable, error))
        return FALSE;
    }
  if (!delete_call (td, "ec2", "delete-vpc", vpc_args, dependency, &gone, cancellable, error))
    return FALSE;
  log_done (td, item, "deleted", gone);
  return TRUE;
}

/* Instances, then what they held on to: volumes, security groups, subnets and a VPC. */
static gboolean
chain_compute (gpointer data, GCancellable *cancellable, GError **error)
{
  Chain *chain = data;
  FerryTeardown *td = chain->td;
  static const char *const group_busy[] = { "DependencyViolation", "InvalidGroup.InUse", NULL };
  static const char *const volume_busy[] = { "VolumeInUse", "IncorrectState", NULL };
  static const char *const dependency[] = { "DependencyViolation", NULL };
  g_autoptr(GPtrArray) instances = g_ptr_array_new ();

  for (guint i = 0; i < chain->items->len; i++)
    {
      FerryFound *item = chain->items->pdata[i];
      if (!item->keep && g_str_equal (item->kind, FERRY_KIND_INSTANCE))
        g_ptr_array_add (instances, item);
    }
  if (!terminate_instances (td, instances, cancellable, error))
    return FALSE;

  for (guint i = 0; i < chain->items->len; i++)
    {
      FerryFound *item = chain->items->pdata[i];
      gboolean gone = FALSE;

      if (item->keep || g_str_equal (item->kind, FERRY_KIND_INSTANCE))
        continue;
      if (g_str_equal (item->kind, FERRY_KIND_VOLUME))
        {
          const char *args[] = { "--volume-id", item->id, NULL };
          if (volume_goes_with_instance (item, instances))
            continue;
          if (!delete_call (td, "ec2", "delete-volume", args, volume_busy, &gone, cancellable,
                            error))
            return FALSE;
        }
      else if (g_str_equal (item->kind, FERRY_KIND_SECURITY_GROUP))
        {
          const char *args[] = { "--group-id", item->id, NULL };
          if (!delete_call (td, "ec2", "delete-security-group", args, group_busy, &gone,
                            cancellable, error))
            return FALSE;
        }
      else if (g_str_equal (item->kind, FERRY_KIND_SUBNET))
        {
          const char *args[] = { "--subnet-id", item->id, NULL };
          if (!delete_call (td, "ec2", "delete-subnet", args, dependency, &gone, cancellable,
                            error))
            return FALSE;
        }
      else if (g_str_equal (item->kind, FERRY_KIND_VPC))
        {
          if (!delete_vpc (td, item, cancellable, error))
            return FALSE;
          if (!forget_item (td, item, error))
            return FALSE;
          continue;
        }
      else
        continue;
      log_done (td, item, "deleted", gone);
      if (!forget_item (td, item, error))
        return FALSE;
    }
  return forget_kept (td, chain->items, error);
}

static gboolean
chain_key (gpointer data, GCancellable *cancellable, GError **error)
{
  Chain *chain = data;
  FerryTeardown *td = chain->td;

  for (guint i = 0; i < chain->items->len; i++)
    {
      FerryFound *item = chain->items->pdata[i];
      gboolean gone = FALSE;

      if (item->keep)
        continue;
      if (g_str_equal (item->kind, FERRY_KIND_KEY_PAIR))
        {
          /* By name: the only way every EC2 implementation deletes a key pair. The tag on the
           * key pair with this name and id was seen, or the item would be kept. */
          const char *args[] = { item->aws_name ? "--key-name" : "--key-pair-id",
                                 item->aws_name ? item->aws_name : item->id, NULL };
          if (!delete_call (td, "ec2", "delete-key-pair", args, NULL, &gone, cancellable, error))
            return FALSE;
          log_done (td, item, "deleted", gone);
          if (!forget_item (td, item, error))
            return FALSE;
        }
      else if (g_str_equal (item->kind, FERRY_KIND_PEM))
        {
          if (td->aws->dry_run)
            {
              const char *rm[] = { "rm", "-f", item->id, NULL };
              g_autofree char *shown = ferry_argv_display (rm);
              td_log (td, "would run: %s", shown);
            }
          else if (g_unlink (item->id) != 0 && errno != ENOENT)
            {
              int errsv = errno;
              return ferry_throw (error, FERRY_ERROR_FAILED, "removing %s: %s", item->id,
                                  g_strerror (errsv));
            }
          else
            td_log (td, "removed key file %s", item->id);
        }
    }
  return forget_kept (td, chain->items, error);
}

/* A role can also hold managed policies or sit in other profiles; only then is it worth the calls.
 */
static gboolean
empty_role (FerryTeardown *td, const char *role, GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--role-name", role, NULL };
  g_autoptr(json_t) inline_policies = NULL;
  g_autoptr(json_t) attached = NULL;
  g_autoptr(json_t) profiles = NULL;
  json_t *v;
  size_t i;

  inline_policies = ferry_aws_call (td->aws, "iam", "list-role-policies", args, cancellable, error);
  if (inline_policies == NULL)
    return FALSE;
  json_array_foreach (json_object_get (inline_policies, "PolicyNames"), i, v)
    {
      const char *del[] = { "--role-name", role, "--policy-name", json_string_value (v), NULL };
      if (json_is_string (v)
          && !delete_call (td, "iam", "delete-role-policy", del, NULL, NULL, cancellable, error))
        return FALSE;
    }
  attached
      = ferry_aws_call (td->aws, "iam", "list-attached-role-policies", args, cancellable, error);
  if (attached == NULL)
    return FALSE;
  json_array_foreach (json_object_get (attached, "AttachedPolicies"), i, v)
    {
      const char *arn = json_string_value (json_object_get (v, "PolicyArn"));
      const char *detach[] = { "--role-name", role, "--policy-arn", arn, NULL };
      if (arn != NULL
          && !delete_call (td, "iam", "detach-role-policy", detach, NULL, NULL, cancellable, error))
        return FALSE;
    }
  profiles = ferry_aws_call (td->aws, "iam", "list-instance-profiles-for-role", args, cancellable,
                             error);
  if (profiles == NULL)
    return FALSE;
  json_array_foreach (json_object_get (profiles, "InstanceProfiles"), i, v)
    {
      const char *p = json_string_value (json_object_get (v, "InstanceProfileName"));
      const char *remove[] = { "--instance-profile-name", p, "--role-name", role, NULL };
      if (p != NULL
          && !delete_call (td, "iam", "remove-role-from-instance-profile", remove, NULL, NULL,
                           cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* The profile lets go of the role, then the profile, the role's policy and the role go. */
static gboolean
chain_iam (gpointer data, GCancellable *cancellable, GError **error)
{
  Chain *chain = data;
  FerryTeardown *td = chain->td;
  const char *name = ferry_state_get_name (td->state);

  for (guint i = 0; i < chain->items->len; i++)
    {
      FerryFound *item = chain->items->pdata[i];
      const char *args[] = { "--instance-profile-name", item->id, NULL };
      gboolean gone = FALSE;

      if (item->keep || !g_str_equal (item->kind, FERRY_KIND_INSTANCE_PROFILE))
        continue;
      for (guint j = 0; item->members != NULL && item->members[j] != NULL; j++)
        {
          const char *remove[]
              = { "--instance-profile-name", item->id, "--role-name", item->members[j], NULL };
          if (!delete_call (td, "iam", "remove-role-from-instance-profile", remove, NULL, NULL,
                            cancellable, error))
            return FALSE;
        }
      if (!delete_call (td, "iam", "delete-instance-profile", args, NULL, &gone, cancellable,
                        error))
        return FALSE;
      log_done (td, item, "deleted", gone);
      if (!forget_item (td, item, error))
        return FALSE;
    }

  for (guint i = 0; i < chain->items->len; i++)
    {
      FerryFound *item = chain->items->pdata[i];
      g_autofree char *policy = NULL;
      g_autoptr(GError) local_error = NULL;
      const char *args[] = { "--role-name", item->id, NULL };
      gboolean gone = FALSE;

      if (item->keep || !g_str_equal (item->kind, FERRY_KIND_ROLE))
        continue;
      policy = item->policy ? g_strdup (item->policy) : g_strconcat (name, "-s3", NULL);
      {
        const char *del[] = { "--role-name", item->id, "--policy-name", policy, NULL };
        if (!delete_call (td, "iam", "delete-role-policy", del, NULL, NULL, cancellable, error))
          return FALSE;
      }
      if (!delete_call (td, "iam", "delete-role", args, NULL, &gone, cancellable, &local_error))
        {
          if (!ferry_aws_error_has_code (local_error, "DeleteConflict"))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (!empty_role (td, item->id, cancellable, error)
              || !delete_call (td, "iam", "delete-role", args, NULL, &gone, cancellable, error))
            return FALSE;
        }
      log_done (td, item, "deleted", gone);
      if (!forget_item (td, item, error))
        return FALSE;
    }
  return forget_kept (td, chain->items, error);
}

/* Every version and delete marker, a thousand at a time (delete-objects' limit). */
static gboolean
empty_bucket (FerryTeardown *td, const char *bucket, GCancellable *cancellable, GError **error)
{
  const char *list_args[] = { "--bucket", bucket, NULL };
  g_autoptr(json_t) listing
      = ferry_aws_call (td->aws, "s3api", "list-object-versions", list_args, cancellable, error);
  g_autoptr(json_t) objects = json_array ();
  const char *members[] = { "Versions", "DeleteMarkers" };
  guint n_deleted = 0;

  if (listing == NULL)
    return FALSE;
  for (guint m = 0; m < G_N_ELEMENTS (members); m++)
    {
      json_t *v;
      size_t i;
      json_array_foreach (json_object_get (listing, members[m]), i, v)
        {
          json_t *key = json_object_get (v, "Key");
          json_t *version = json_object_get (v, "VersionId");
          if (!json_is_string (key))
            continue;
          if (json_is_string (version))
            json_array_append_new (objects,
                                   json_pack ("{s:O, s:O}", "Key", key, "VersionId", version));
          else
            json_array_append_new (objects, json_pack ("{s:O}", "Key", key));
        }
    }

  for (size_t start = 0; start < json_array_size (objects); start += 1000)
    {
      g_autoptr(json_t) batch = json_array ();
      g_autoptr(json_t) request = NULL;
      g_autoptr(json_t) result = NULL;
      g_autofree char *text = NULL;
      g_autofree char *tmp = NULL;
      g_autofree char *url = NULL;
      json_t *errors;
      int fd;

      for (size_t i = start; i < MIN (start + 1000, json_array_size (objects)); i++)
        json_array_append (batch, json_array_get (objects, i));
      request = json_pack ("{s:O, s:b}", "Objects", batch, "Quiet", TRUE);
      text = json_dumps (request, JSON_COMPACT);
      /* A thousand keys do not go into an argv: the request is a file aws reads. */
      fd = g_file_open_tmp ("ferry-delete-XXXXXX.json", &tmp, error);
      if (fd < 0)
        return FALSE;
      close (fd);
      if (!g_file_set_contents_full (tmp, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, error))
        {
          g_unlink (tmp);
          return FALSE;
        }
      url = g_strconcat ("file://", tmp, NULL);
      {
        const char *args[] = { "--bucket", bucket, "--delete", url, NULL };
        result = ferry_aws_call (td->aws, "s3api", "delete-objects", args, cancellable, error);
      }
      g_unlink (tmp);
      if (result == NULL)
        return FALSE;
      errors = json_object_get (result, "Errors");
      if (json_array_size (errors) > 0)
        return ferry_throw (
            error, FERRY_ERROR_FAILED, "emptying bucket %s: %s: %s", bucket,
            json_string_value (json_object_get (json_array_get (errors, 0), "Key")),
            json_string_value (json_object_get (json_array_get (errors, 0), "Message")));
      n_deleted += json_array_size (batch);
    }
  if (!td->aws->dry_run && n_deleted > 0)
    td_log (td, "emptied bucket %s (%u objects and versions)", bucket, n_deleted);
  return TRUE;
}

static gboolean
bucket_is_empty (FerryTeardown *td, const char *bucket, gboolean *out_empty,
                 GCancellable *cancellable, GError **error)
{
  const char *args[] = { "--bucket", bucket, "--max-keys", "1", NULL };
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) root
      = ferry_aws_call (td->aws, "s3api", "list-objects-v2", args, cancellable, &local_error);

  *out_empty = TRUE;
  if (root == NULL)
    {
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *out_empty = json_array_size (json_object_get (root, "Contents")) == 0;
  return TRUE;
}

static gboolean
chain_bucket (gpointer data, GCancellable *cancellable, GError **error)
{
  Chain *chain = data;
  FerryTeardown *td = chain->td;

  for (guint i = 0; i < chain->items->len; i++)
    {
      FerryFound *item = chain->items->pdata[i];
      const char *args[] = { "--bucket", item->id, NULL };
      g_autoptr(GError) local_error = NULL;
      gboolean gone = FALSE;

      if (item->keep)
        continue;
      if (td->aws->dry_run)
        {
          gboolean empty = TRUE;
          if (!bucket_is_empty (td, item->id, &empty, cancellable, error))
            return FALSE;
          if (!empty && !td->force)
            td_log (td, "bucket %s is not empty: without --force, teardown will keep it", item->id);
          else if (!empty && !empty_bucket (td, item->id, cancellable, error))
            return FALSE;
        }
      if (!delete_call (td, "s3api", "delete-bucket", args, NULL, &gone, cancellable, &local_error))
        {
          if (!ferry_aws_error_has_code (local_error, "BucketNotEmpty"))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (!td->force)
            return ferry_throw (error, FERRY_ERROR_FAILED,
                                "bucket %s is not empty, so it was kept; save what it holds, then "
                                "run `ferry teardown --force` to delete it with its contents",
                                item->id);
          if (!empty_bucket (td, item->id, cancellable, error)
              || !delete_call (td, "s3api", "delete-bucket", args, NULL, &gone, cancellable, error))
            return FALSE;
        }
      log_done (td, item, "deleted", gone);
      if (!forget_item (td, item, error))
        return FALSE;
    }
  return forget_kept (td, chain->items, error);
}

gboolean
ferry_teardown_execute (FerryTeardown *td, GPtrArray *plan, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr(GPtrArray) compute = g_ptr_array_new ();
  g_autoptr(GPtrArray) key = g_ptr_array_new ();
  g_autoptr(GPtrArray) iam = g_ptr_array_new ();
  g_autoptr(GPtrArray) bucket = g_ptr_array_new ();
  Chain chains[] = { { td, compute }, { td, key }, { td, iam }, { td, bucket } };
  Task tasks[] = { { chain_compute, &chains[0] },
                   { chain_key, &chains[1] },
                   { chain_iam, &chains[2] },
                   { chain_bucket, &chains[3] } };
  g_autoptr(json_t) root = NULL;

  for (guint i = 0; i < plan->len; i++)
    {
      FerryFound *item = plan->pdata[i];

      if (g_str_equal (item->kind, FERRY_KIND_KEY_PAIR) || g_str_equal (item->kind, FERRY_KIND_PEM))
        g_ptr_array_add (key, item);
      else if (g_str_equal (item->kind, FERRY_KIND_ROLE)
               || g_str_equal (item->kind, FERRY_KIND_INSTANCE_PROFILE))
        g_ptr_array_add (iam, item);
      else if (g_str_equal (item->kind, FERRY_KIND_BUCKET))
        g_ptr_array_add (bucket, item);
      else
        g_ptr_array_add (compute, item);
    }

  /* A dry run shows the commands chain by chain, in order. */
  if (!run_tasks (tasks, G_N_ELEMENTS (tasks), td->aws->dry_run ? 1 : G_N_ELEMENTS (tasks),
                  cancellable, error))
    return FALSE;
  if (td->aws->dry_run)
    return TRUE;

  /* Whatever the state still names (a kind this ferry does not know) keeps the file. */
  root = ferry_state_dup_root (td->state);
  if (json_object_size (json_object_get (root, "resources")) == 0)
    {
      g_autofree char *path = ferry_state_path (td->state, "state.json");
      if (g_unlink (path) != 0 && errno != ENOENT)
        {
          int errsv = errno;
          return ferry_throw (error, FERRY_ERROR_FAILED, "removing %s: %s", path,
                              g_strerror (errsv));
        }
    }
  return TRUE;
}
