/* The IAM pair: role <NAME>-ec2 (trust policy from templates/iam-trust.json) with its inline policy
 * <NAME>-s3 on the one bucket, and instance profile <NAME>-profile holding it. Made together, adopted
 * only with ferry's tag; found by name (IAM lists are not filtered by tag); deleted profile first. */
#include "kind-private.h"

/* --- ensure ------------------------------------------------------------------------------------- */

/* Replaces every string "@KEY@" in `node` (recursively) with its value from `vars`. */
static void
substitute (json_t *node, GHashTable *vars)
{
  size_t i;
  const char *key;
  json_t *child;
  void *tmp;

  if (json_is_object (node))
    json_object_foreach_safe (node, tmp, key, child)
      {
        const char *value = json_is_string (child)
                                ? g_hash_table_lookup (vars, json_string_value (child))
                                : NULL;
        if (value != NULL)
          json_object_set_new (node, key, json_string (value));
        else
          substitute (child, vars);
      }
  else if (json_is_array (node))
    json_array_foreach (node, i, child)
      {
        const char *value = json_is_string (child)
                                ? g_hash_table_lookup (vars, json_string_value (child))
                                : NULL;
        if (value != NULL)
          json_array_set_new (node, i, json_string (value));
        else
          substitute (child, vars);
      }
}

static json_t *
load_json_template (const char *name, GError **error)
{
  g_autofree char *text = NULL;
  json_error_t jerr;
  json_t *root;

  if (!ferry_template_load (name, &text, error))
    return NULL;
  root = json_loads (text, 0, &jerr);
  if (root == NULL)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA, "template %s: line %d: %s", name,
                         jerr.line, jerr.text),
            NULL);
  return root;
}

/* A statement on instances: only stop, terminate or tag, and only those tagged ferry:name=NAME. */
static gboolean
instance_statement_scoped (json_t *statement, const char *name)
{
  static const char *const allowed[] = { "ec2:StopInstances", "ec2:TerminateInstances", "ec2:CreateTags" };
  json_t *action = json_object_get (statement, "Action");
  json_t *equals = json_object_get (json_object_get (statement, "Condition"), "StringEquals");
  json_t *one;
  size_t i;

  if (g_strcmp0 (json_string_value (json_object_get (equals, "aws:ResourceTag/ferry:name")), name) != 0)
    return FALSE;
  if (json_is_string (action))
    return g_strv_contains (allowed, json_string_value (action));
  if (!json_is_array (action) || json_array_size (action) == 0)
    return FALSE;
  json_array_foreach (action, i, one)
    if (!json_is_string (one) || !g_strv_contains (allowed, json_string_value (one)))
      return FALSE;
  return TRUE;
}

/* A statement on the topic: only to publish to it. */
static gboolean
topic_statement_scoped (json_t *statement)
{
  json_t *action = json_object_get (statement, "Action");

  if (json_is_array (action) && json_array_size (action) == 1)
    action = json_array_get (action, 0);
  return g_strcmp0 (json_string_value (action), "sns:Publish") == 0;
}

json_t *
ferry_role_policy_render (const char *name, const char *region, const char *bucket, GError **error)
{
  g_autoptr(GHashTable) vars = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autofree char *bucket_arn = g_strconcat ("arn:aws:s3:::", bucket, NULL);
  g_autofree char *objects_arn = g_strconcat (bucket_arn, "/*", NULL);
  g_autofree char *instance_arn = g_strdup_printf ("arn:aws:ec2:%s:*:instance/*", region ? region : "*");
  g_autofree char *topic_arn = ferry_topic_arn_pattern (name, region);
  g_autoptr(json_t) policy = NULL;
  json_t *statement;
  size_t i;

  policy = load_json_template ("iam-policy.json", error);
  if (policy == NULL)
    return NULL;
  g_hash_table_insert (vars, "@BUCKET_ARN@", g_strdup (bucket_arn));
  g_hash_table_insert (vars, "@OBJECTS_ARN@", g_strdup (objects_arn));
  g_hash_table_insert (vars, "@INSTANCE_ARN@", g_strdup (instance_arn));
  g_hash_table_insert (vars, "@TOPIC_ARN@", g_strdup (topic_arn));
  g_hash_table_insert (vars, "@NAME@", g_strdup (name));
  substitute (policy, vars);

  /* Whatever the template says, the policy may name this bucket and its objects, and the
   * deployment's own instances (to end them), and its own topic (to publish to), nothing else. */
  json_array_foreach (json_object_get (policy, "Statement"), i, statement)
    {
      json_t *resource = json_object_get (statement, "Resource");
      json_t *one;
      size_t j;
      if (json_is_string (resource))
        resource = json_pack ("[O]", resource);
      else
        json_incref (resource);
      if (!json_is_array (resource) || json_array_size (resource) == 0)
        {
          json_decref (resource);
          return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                               "template iam-policy.json: statement %zu has no Resource", i),
                  NULL);
        }
      json_array_foreach (resource, j, one)
        if (g_strcmp0 (json_string_value (one), bucket_arn) != 0
            && g_strcmp0 (json_string_value (one), objects_arn) != 0
            && !(g_strcmp0 (json_string_value (one), instance_arn) == 0
                 && instance_statement_scoped (statement, name))
            && !(g_strcmp0 (json_string_value (one), topic_arn) == 0
                 && topic_statement_scoped (statement)))
          {
            json_decref (resource);
            return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                                 "template iam-policy.json names a resource other than the "
                                 "bucket, the deployment's tagged instances and its topic; fix the "
                                 "template"),
                    NULL);
          }
      json_decref (resource);
    }
  if (json_array_size (json_object_get (policy, "Statement")) == 0)
    return (ferry_throw (error, FERRY_ERROR_INVALID_DATA,
                         "template iam-policy.json has no Statement"),
            NULL);
  return g_steal_pointer (&policy);
}

/* get-role / get-instance-profile: the object, to check its tags before adopting it. */
/* Creates an IAM role or profile, or adopts the one of that name when it carries our tag. The
 * created object (Role / InstanceProfile) comes back. */
static json_t *
iam_create (FerryResources *res, const char *kind, const char *operation, GStrvBuilder *b,
            const char *name, GCancellable *cancellable, GError **error)
{
  const char *member = g_str_equal (kind, FERRY_KIND_ROLE) ? "Role" : "InstanceProfile";
  g_autoptr(json_t) out = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) existing = NULL;
  json_t *resource;
  const char *id_member = strcmp (member, "Role") == 0 ? "RoleName" : "InstanceProfileName";
  const char *arn;

  out = ferry_res_call (res, "iam", operation, b, cancellable, &local_error);
  if (out == NULL && ferry_aws_error_has_code (local_error, "EntityAlreadyExists"))
    {
      existing = ferry_kind_iam_get (res->aws, kind, name, cancellable, error);
      if (existing == NULL)
        return NULL;
      if (!ferry_res_tags_are_ours (res, json_object_get (existing, "Tags")))
        return (ferry_throw (error, FERRY_ERROR_FAILED,
                             "IAM %s %s exists and ferry did not create it (no %s=%s tag): delete "
                             "it or use another --name",
                             ferry_kind_label (kind), name, FERRY_TAG_KEY, ferry_res_name (res)),
                NULL);
    }
  else if (out == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  else if (json_is_object (json_object_get (out, member)))
    existing = json_incref (json_object_get (out, member));
  else
    existing = json_object (); /* dry-run: nothing was made */

  if (!res->dry_run && !json_is_string (json_object_get (existing, id_member)))
    return (ferry_res_missing_member (error, operation, id_member), NULL);
  arn = json_string_value (json_object_get (existing, "Arn"));
  resource = ferry_resource_new (name, TRUE);
  json_object_set_new (resource, "arn", arn ? json_string (arn) : json_null ());
  if (!ferry_res_record (res, kind, resource, error))
    return NULL;
  return g_steal_pointer (&existing);
}

typedef struct
{
  char *role_name;
  char *policy_name;
  char *profile_name;
  char *tag;
  char *desc;
  char *trust_text;
  char *policy_text;
  char *policy_sha256; /* of policy_text: a role whose recorded one differs gets the policy again */
  json_t *profile; /* the profile as created or found (its Roles) */
} RoleJob;

static gboolean
role_create (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) role = NULL;

  if (ferry_state_has_resource (res->state, FERRY_KIND_ROLE))
    return TRUE;
  g_strv_builder_add_many (b, "--role-name", job->role_name, "--description", job->desc,
                           "--assume-role-policy-document", job->trust_text, "--tags", job->tag,
                           NULL);
  role = iam_create (res, FERRY_KIND_ROLE, "create-role", b, job->role_name, cancellable, error);
  return role != NULL;
}

static gboolean
profile_create (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();

  if (ferry_state_has_resource (res->state, FERRY_KIND_INSTANCE_PROFILE))
    {
      job->profile = ferry_kind_iam_get (res->aws, FERRY_KIND_INSTANCE_PROFILE, job->profile_name,
                                         cancellable, error);
      return job->profile != NULL;
    }
  g_strv_builder_add_many (b, "--instance-profile-name", job->profile_name, "--tags", job->tag,
                           NULL);
  job->profile = iam_create (res, FERRY_KIND_INSTANCE_PROFILE, "create-instance-profile", b,
                             job->profile_name, cancellable, error);
  /* run-instances refuses a new profile for a while: its age says whether a refusal may be that. */
  return job->profile != NULL
         && (res->dry_run
             || ferry_res_update (res, FERRY_KIND_INSTANCE_PROFILE, "created_at",
                        json_integer (g_get_real_time () / G_USEC_PER_SEC), error));
}

static gboolean
role_put_policy (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;

  g_strv_builder_add_many (b, "--role-name", job->role_name, "--policy-name", job->policy_name,
                           "--policy-document", job->policy_text, NULL);
  out = ferry_res_call (res, "iam", "put-role-policy", b, cancellable, error);
  return out != NULL
         && ferry_res_update (res, FERRY_KIND_ROLE, "policy", json_string (job->policy_name), error)
         && ferry_res_update (res, FERRY_KIND_ROLE, "policy_sha256", json_string (job->policy_sha256),
                              error);
}

static gboolean
profile_add_role (FerryResources *res, gpointer data, GCancellable *cancellable, GError **error)
{
  RoleJob *job = data;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  json_t *member;
  size_t i;

  json_array_foreach (json_object_get (job->profile, "Roles"), i, member)
    if (g_strcmp0 (json_string_value (json_object_get (member, "RoleName")), job->role_name) == 0)
      return TRUE;
  g_strv_builder_add_many (b, "--instance-profile-name", job->profile_name, "--role-name",
                           job->role_name, NULL);
  out = ferry_res_call (res, "iam", "add-role-to-instance-profile", b, cancellable, error);
  return out != NULL;
}

gboolean
ferry_role_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                   GError **error)
{
  const char *bucket = spec->bucket;
  g_autofree char *known_policy = ferry_state_dup_resource_string (res->state, FERRY_KIND_ROLE,
                                                                   "policy");
  g_autofree char *known_sha256 = ferry_state_dup_resource_string (res->state, FERRY_KIND_ROLE,
                                                                   "policy_sha256");
  gboolean had_role = ferry_state_has_resource (res->state, FERRY_KIND_ROLE);
  g_autoptr(json_t) trust = NULL, policy = NULL;
  RoleJob job = { 0 };
  gboolean ok;

  if (!spec->iam || bucket == NULL)
    return TRUE;
  if (!ferry_bucket_name_validate (bucket, error))
    return FALSE;
  policy = ferry_role_policy_render (ferry_res_name (res), res->aws->region, bucket, error);
  if (policy == NULL)
    return FALSE;
  job.policy_text = json_dumps (policy, JSON_COMPACT | JSON_SORT_KEYS);
  job.policy_sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, job.policy_text, -1);
  /* A role made by an earlier ferry may lack what this one's policy allows (the instance stopping
   * itself): it gets the policy again, once. */
  if (known_policy != NULL && g_strcmp0 (known_sha256, job.policy_sha256) == 0
      && ferry_state_has_resource (res->state, FERRY_KIND_INSTANCE_PROFILE))
    {
      g_free (job.policy_text);
      g_free (job.policy_sha256);
      return TRUE;
    }

  trust = load_json_template ("iam-trust.json", error);
  if (trust == NULL)
    {
      g_free (job.policy_text);
      g_free (job.policy_sha256);
      return FALSE;
    }
  job.role_name = g_strconcat (ferry_res_name (res), "-ec2", NULL);
  job.policy_name = g_strconcat (ferry_res_name (res), "-s3", NULL);
  job.profile_name = g_strconcat (ferry_res_name (res), "-profile", NULL);
  job.tag = g_strdup_printf ("Key=%s,Value=%s", FERRY_TAG_KEY, ferry_res_name (res));
  job.desc = g_strconcat ("ferry ", ferry_res_name (res), ": the instance's access to s3://", bucket,
                          NULL);
  job.trust_text = json_dumps (trust, JSON_COMPACT);

  /* The role and the profile do not need each other; the policy and the membership need both. */
  ok = ferry_res_run_both (res, role_create, profile_create, &job, cancellable, error)
       && ferry_res_run_both (res, role_put_policy, profile_add_role, &job, cancellable, error);
  if (ok && had_role)
    ferry_res_log (res, "updated the policy %s of role %s (s3://%s only, ending its own tagged instance, publishing to its topic)",
                   job.policy_name, job.role_name, bucket);
  else if (ok)
    ferry_res_log (res, "created role %s (policy %s: s3://%s only, ending its own tagged instance, publishing to its topic) in instance profile %s",
             job.role_name, job.policy_name, bucket, job.profile_name);
  g_free (job.role_name);
  g_free (job.policy_name);
  g_free (job.profile_name);
  g_free (job.tag);
  g_free (job.desc);
  g_free (job.trust_text);
  g_free (job.policy_text);
  g_free (job.policy_sha256);
  json_decref (job.profile);
  return ok;
}

/* --- discover ----------------------------------------------------------------------------------- */

/* One role or profile to get, by name. */
typedef struct
{
  FerryDiscovery *d;
  const char *kind;
  char *name;
} Lookup;

static void
lookup_free (Lookup *l)
{
  g_free (l->name);
  g_free (l);
}

static gboolean
lookup_iam (gpointer data, GCancellable *cancellable, GError **error)
{
  Lookup *l = data;
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
  owner = ferry_tags_owner (json_object_get (obj, "Tags"));
  if (!ferry_discovery_owner_matches (l->d, owner) && !(l->d->for_teardown && l->d->name != NULL))
    return TRUE;
  found = ferry_found_new (l->kind, l->name);
  found->owner = g_strdup (owner);
  found->aws_name = g_strdup (l->name);
  found->created_at = ferry_json_time (json_object_get (obj, "CreateDate"));
  found->live = TRUE;
  if (is_role)
    found->detail = ferry_json_dup_string (json_object_get (obj, "Arn"));
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
  ferry_discovery_add (l->d, found);
  return TRUE;
}

/* With a name, the roles or profiles to look at are known; for any name, the ones whose name
 * follows ferry's pattern (<NAME>-ec2, <NAME>-profile) are looked at for the tag. */
static gboolean
discover_iam (FerryDiscovery *d, const char *kind, GCancellable *cancellable, GError **error)
{
  gboolean is_role = g_str_equal (kind, FERRY_KIND_ROLE);
  g_autoptr(GPtrArray) lookups = g_ptr_array_new_with_free_func ((GDestroyNotify) lookup_free);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) to_get = NULL;

  if (d->name != NULL)
    {
      GStrv known = is_role ? d->role_names : d->profile_names;
      if (known != NULL)
        g_strv_builder_addv (names, (const char **) known);
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
            g_strv_builder_add (names, n);
        }
    }
  to_get = g_strv_builder_end (names);
  for (guint i = 0; to_get[i] != NULL; i++)
    {
      Lookup *l = g_new0 (Lookup, 1);
      l->d = d;
      l->kind = kind;
      l->name = g_strdup (to_get[i]);
      g_ptr_array_add (lookups, l);
    }
  return ferry_run_all (lookup_iam, lookups->pdata, lookups->len, 4, cancellable, error);
}

gboolean
ferry_role_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  return discover_iam (d, FERRY_KIND_ROLE, cancellable, error);
}

gboolean
ferry_instance_profile_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  return discover_iam (d, FERRY_KIND_INSTANCE_PROFILE, cancellable, error);
}

/* --- delete ------------------------------------------------------------------------------------- */

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
          && !ferry_td_delete_call (td, "iam", "delete-role-policy", del, NULL, NULL, cancellable, error))
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
          && !ferry_td_delete_call (td, "iam", "detach-role-policy", detach, NULL, NULL, cancellable, error))
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
          && !ferry_td_delete_call (td, "iam", "remove-role-from-instance-profile", remove, NULL, NULL,
                           cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* The profile lets go of its roles, then goes. */
gboolean
ferry_instance_profile_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable,
                               GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      const char *args[] = { "--instance-profile-name", item->id, NULL };
      gboolean gone = FALSE;

      for (guint j = 0; item->members != NULL && item->members[j] != NULL; j++)
        {
          const char *remove[]
              = { "--instance-profile-name", item->id, "--role-name", item->members[j], NULL };
          if (!ferry_td_delete_call (td, "iam", "remove-role-from-instance-profile", remove, NULL, NULL,
                            cancellable, error))
            return FALSE;
        }
      if (!ferry_td_delete_call (td, "iam", "delete-instance-profile", args, NULL, &gone, cancellable,
                        error))
        return FALSE;
      if (!ferry_td_done (td, item, gone, error))
        return FALSE;
    }
  return TRUE;
}

/* The role's inline policy, then the role (emptied of anything else first, if it holds more). */
gboolean
ferry_role_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable, GError **error)
{
  const char *name = ferry_state_get_name (td->state);

  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      g_autofree char *policy = item->policy ? g_strdup (item->policy)
                                             : g_strconcat (name, "-s3", NULL);
      const char *del[] = { "--role-name", item->id, "--policy-name", policy, NULL };
      const char *args[] = { "--role-name", item->id, NULL };
      g_autoptr(GError) local_error = NULL;
      gboolean gone = FALSE;

      if (!ferry_td_delete_call (td, "iam", "delete-role-policy", del, NULL, NULL, cancellable, error))
        return FALSE;
      if (!ferry_td_delete_call (td, "iam", "delete-role", args, NULL, &gone, cancellable, &local_error))
        {
          if (!ferry_aws_error_has_code (local_error, "DeleteConflict"))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (!empty_role (td, item->id, cancellable, error)
              || !ferry_td_delete_call (td, "iam", "delete-role", args, NULL, &gone, cancellable, error))
            return FALSE;
        }
      if (!ferry_td_done (td, item, gone, error))
        return FALSE;
    }
  return TRUE;
}
