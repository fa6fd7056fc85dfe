/* Finding what ferry made (by state, tag and name) and deleting it in reverse dependency order. */
#include <errno.h>
#include <glib/gstdio.h>

#include "kind-private.h"


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

FerryFound *
ferry_found_new (const char *kind, const char *id)
{
  FerryFound *found = g_new0 (FerryFound, 1);

  found->kind = g_strdup (kind);
  found->id = g_strdup (id);
  return found;
}

GDateTime *
ferry_json_time (json_t *value)
{
  if (!json_is_string (value))
    return NULL;
  return g_date_time_new_from_iso8601 (json_string_value (value), NULL);
}

char *
ferry_json_dup_string (json_t *value)
{
  return g_strdup (json_string_value (value));
}

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

gboolean
ferry_run_all (FerryPoolFunc fn, gpointer *data, guint n, guint max_parallel,
               GCancellable *cancellable, GError **error)
{
  g_autoptr(FerryPool) pool = ferry_pool_new (max_parallel, cancellable);

  ferry_pool_set_keep_going (pool, TRUE);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("task %u", i);
      ferry_pool_add (pool, name, fn, data[i], NULL, NULL);
    }
  return ferry_pool_run (pool, error);
}

/* --- discovery --- */

void
ferry_discovery_add (FerryDiscovery *d, FerryFound *found)
{
  g_mutex_lock (&d->lock);
  g_ptr_array_add (d->found, found);
  g_mutex_unlock (&d->lock);
}

gboolean
ferry_discovery_owner_matches (FerryDiscovery *d, const char *owner)
{
  return owner != NULL && (d->name == NULL || g_str_equal (owner, d->name));
}

json_t *
ferry_discovery_describe_tagged (FerryDiscovery *d, const char *operation, const char *member, const char *extra,
                 GCancellable *cancellable, GError **error)
{
  return ferry_kind_describe_tagged (d->aws, operation, member, d->name, extra, cancellable, error);
}

/* One kind's discover, as a step of its own. */
typedef struct
{
  FerryDiscovery *d;
  const FerryKind *kind;
} KindLookup;

static gboolean
discover_kind (gpointer data, GCancellable *cancellable, GError **error)
{
  KindLookup *l = data;

  return l->kind->discover (l->d, cancellable, error);
}

/* Every kind's discover at once. */
static GPtrArray *
discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) ferry_found_free);
  g_autoptr(GPtrArray) lookups = g_ptr_array_new_with_free_func (g_free);
  gboolean ok;

  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    if (k->discover != NULL)
      {
        KindLookup *l = g_new (KindLookup, 1);
        *l = (KindLookup){ d, k };
        g_ptr_array_add (lookups, l);
      }
  g_mutex_init (&d->lock);
  d->found = found;
  ok = ferry_run_all (discover_kind, lookups->pdata, lookups->len, 0, cancellable, error);
  d->found = NULL;
  g_mutex_clear (&d->lock);
  if (!ok)
    {
      g_prefix_error (error, "looking for ferry's resources: ");
      return NULL;
    }
  g_ptr_array_sort (found, found_compare);
  return g_steal_pointer (&found);
}

GPtrArray *
ferry_discover (FerryAws *aws, FerryState *state, const char *name, FerryLogFunc log,
                gpointer log_data, GCancellable *cancellable, GError **error)
{
  g_autofree char *role = name ? g_strconcat (name, "-ec2", NULL) : NULL;
  g_autofree char *profile = name ? g_strconcat (name, "-profile", NULL) : NULL;
  char *roles[] = { role, NULL };
  char *profiles[] = { profile, NULL };
  FerryDiscovery d = { aws, state, name, roles, profiles, FALSE, log, log_data };

  return discover (&d, cancellable, error);
}

/* --- teardown --- */

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

void
ferry_td_log (FerryTeardown *td, const char *fmt, ...)
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
         || g_str_equal (kind, FERRY_KIND_INSTANCE_PROFILE) || g_str_equal (kind, FERRY_KIND_TOPIC);
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
      FerryFound *item = ferry_found_new (kind, json_string_value (json_object_get (res, "id")));
      item->from_state = TRUE;
      item->adopted = !json_is_true (json_object_get (res, "created"));
      item->aws_name = ferry_json_dup_string (json_object_get (res, "name"));
      item->policy = ferry_json_dup_string (json_object_get (res, "policy"));
      item->state = ferry_json_dup_string (json_object_get (res, "state"));
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
               && ferry_volume_goes_with_instance (item, plan))
        item->note = g_strdup ("deleted with its instance");
      else if (g_str_equal (item->kind, FERRY_KIND_VPC) && !item->from_state && item->is_default)
        {
          /* Tagged, but the default VPC is deleted only when the state says ferry made it. */
          item->keep = TRUE;
          item->note = g_strdup ("the default VPC: left alone");
        }
    }

  if (pem_path != NULL && g_file_test (pem_path, G_FILE_TEST_EXISTS))
    g_ptr_array_add (plan, ferry_found_new (FERRY_KIND_PEM, pem_path));

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

  {
    FerryDiscovery d = { td->aws, td->state, name, role_names, profile_names, TRUE, td->log,
                         td->log_data };
    found = discover (&d, cancellable, error);
  }
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
gboolean
ferry_td_delete_call (FerryTeardown *td, const char *service, const char *operation, const char *const *args,
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
          ferry_td_log (td, "aws %s %s %s refused (%s); retrying for up to %u s", service, operation,
                  args[1] ? args[1] : "", code ? code : "busy", td->timeout_s);
          told = TRUE;
        }
      if (!ferry_sleep (interval_ms, cancellable, error))
        return FALSE;
      interval_ms = MIN (interval_ms * 3 / 2, 15000);
    }
}

/* Forgets the item from the state if the state holds this very resource. */
gboolean
ferry_td_forget (FerryTeardown *td, FerryFound *item, GError **error)
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
      if (item->keep && !ferry_td_forget (td, item, error))
        return FALSE;
    }
  return TRUE;
}

void
ferry_td_log_done (FerryTeardown *td, FerryFound *item, const char *verb, gboolean gone)
{
  if (td->aws->dry_run)
    return;
  ferry_td_log (td, "%s %s %s%s%s%s", gone ? "already gone:" : verb, ferry_kind_label (item->kind),
          item->id, item->aws_name && g_strcmp0 (item->aws_name, item->id) != 0 ? " (" : "",
          item->aws_name && g_strcmp0 (item->aws_name, item->id) != 0 ? item->aws_name : "",
          item->aws_name && g_strcmp0 (item->aws_name, item->id) != 0 ? ")" : "");
}

gboolean
ferry_td_done (FerryTeardown *td, FerryFound *item, gboolean gone, GError **error)
{
  ferry_td_log_done (td, item, "deleted", gone);
  return ferry_td_forget (td, item, error);
}

gboolean
ferry_td_delete_item (FerryTeardown *td, FerryFound *item, const char *service,
                      const char *operation, const char *const *args,
                      const char *const *retry_codes, GCancellable *cancellable, GError **error)
{
  gboolean gone = FALSE;

  return ferry_td_delete_call (td, service, operation, args, retry_codes, &gone, cancellable,
                               error)
         && ferry_td_done (td, item, gone, error);
}

/* One kind's deletion: its items that are not kept, then its kept ones forgotten. */
typedef struct
{
  FerryTeardown *td;
  const FerryKind *kind;
  GPtrArray *items; /* borrowed from the plan */
} KindStep;

static void
clear_kind_step (gpointer data)
{
  g_ptr_array_unref (((KindStep *) data)->items);
}

static gboolean
delete_kind (gpointer data, GCancellable *cancellable, GError **error)
{
  KindStep *step = data;
  g_autoptr(GPtrArray) doomed = g_ptr_array_new ();

  for (guint i = 0; i < step->items->len; i++)
    if (!((FerryFound *) step->items->pdata[i])->keep)
      g_ptr_array_add (doomed, step->items->pdata[i]);
  if (doomed->len > 0 && !step->kind->delete (step->td, doomed, cancellable, error))
    return FALSE;
  return forget_kept (step->td, step->items, error);
}

gboolean
ferry_teardown_execute (FerryTeardown *td, GPtrArray *plan, GCancellable *cancellable,
                        GError **error)
{
  g_autoptr(FerryPool) pool = NULL;
  g_autoptr(GArray) steps = g_array_new (FALSE, TRUE, sizeof (KindStep));
  g_autoptr(json_t) root = NULL;
  gboolean ok;

  g_array_set_clear_func (steps, clear_kind_step);

  /* A step per kind, started once the kinds it waits for are gone; every step runs to its end
   * (a refused bucket must not leave an instance billing). A dry run shows the commands in
   * teardown order, one step at a time. */
  for (const FerryKind *k = ferry_kinds (); k->kind != NULL; k++)
    {
      KindStep step = { td, k, g_ptr_array_new () };
      for (guint i = 0; i < plan->len; i++)
        if (g_str_equal (((FerryFound *) plan->pdata[i])->kind, k->kind))
          g_ptr_array_add (step.items, plan->pdata[i]);
      g_array_append_val (steps, step);
    }
  pool = ferry_pool_new (td->aws->dry_run ? 1 : 0, cancellable);
  ferry_pool_set_keep_going (pool, TRUE);
  ferry_pool_set_log (pool, td->log, td->log_data);
  for (guint i = 0; i < steps->len; i++)
    {
      KindStep *step = &g_array_index (steps, KindStep, i);
      ferry_pool_add (pool, step->kind->kind, delete_kind, step, step->kind->delete_after, NULL);
    }
  td->plan = plan;
  ok = ferry_pool_run (pool, error);
  td->plan = NULL;
  if (!ok || td->aws->dry_run)
    return ok;

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
