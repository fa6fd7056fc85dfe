/* The SNS topic <NAME>-notify that run --notify makes: tagged, recorded as an intent before its
 * create call (a crash between the two still leaves teardown something to look for), adopted never
 * (a topic of that name without ferry's tag is refused), one e-mail subscription per address, each
 * with a filter policy so that a run's message reaches only the address it names. Found through the
 * state, as budgets are: a deployment that never used --notify costs no SNS call. Without a state
 * file it is looked for by name, and taken only with the deployment's tag. */
#include "kind-private.h"

char *
ferry_topic_name (const char *deployment)
{
  return g_strconcat (deployment, "-notify", NULL);
}

char *
ferry_topic_arn_pattern (const char *deployment, const char *region)
{
  g_autofree char *topic = ferry_topic_name (deployment);

  return g_strdup_printf ("arn:aws:sns:%s:*:%s", region ? region : "*", topic);
}

/* The ferry:name tag of topic `arn` (NULL: untagged). */
static gboolean
topic_owner (FerryAws *aws, const char *arn, char **out_owner, GCancellable *cancellable,
             GError **error)
{
  const char *args[] = { "--resource-arn", arn, NULL };
  g_autoptr(json_t) root
      = ferry_aws_call (aws, "sns", "list-tags-for-resource", args, cancellable, error);

  *out_owner = NULL;
  if (root == NULL)
    return FALSE;
  *out_owner = g_strdup (ferry_tags_owner (json_object_get (root, "Tags")));
  return TRUE;
}

/* The ARN of the topic named `topic`, from list-topics, or NULL without error when there is none. */
static char *
topic_find (FerryAws *aws, const char *topic, GCancellable *cancellable, GError **error)
{
  g_autoptr(json_t) root = ferry_aws_call (aws, "sns", "list-topics", NULL, cancellable, error);
  g_autofree char *suffix = g_strconcat (":", topic, NULL);
  json_t *one;
  size_t i;

  if (root == NULL)
    return NULL;
  json_array_foreach (json_object_get (root, "Topics"), i, one)
    {
      const char *arn = json_string_value (json_object_get (one, "TopicArn"));
      if (arn != NULL && g_str_has_suffix (arn, suffix))
        return g_strdup (arn);
    }
  return NULL;
}

/* Creates the topic (or finds the one ferry made), checking that it carries ferry's tag before
 * its ARN is recorded. */
static char *
topic_create (FerryResources *res, const char *topic, GCancellable *cancellable, GError **error)
{
  g_autofree char *tags = g_strdup_printf ("Key=%s,Value=%s", FERRY_TAG_KEY, ferry_res_name (res));
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autofree char *owner = NULL;
  const char *arn;

  /* The intent first: from here on, teardown looks for a topic of this name. */
  if (!ferry_state_has_resource (res->state, FERRY_KIND_TOPIC)
      && !ferry_res_record (res, FERRY_KIND_TOPIC, ferry_resource_new (topic, TRUE), error))
    return NULL;
  g_strv_builder_add_many (b, "--name", topic, "--tags", tags, NULL);
  out = ferry_res_call (res, "sns", "create-topic", b, cancellable, error);
  if (out == NULL)
    return (g_prefix_error (error, "creating SNS topic %s: ", topic), NULL);
  arn = json_string_value (json_object_get (out, "TopicArn"));
  if (arn == NULL)
    return (ferry_res_missing_member (error, "sns create-topic", "TopicArn"), NULL);
  /* create-topic answers with a topic of that name that already exists, whoever made it. */
  if (!topic_owner (res->aws, arn, &owner, cancellable, error))
    return NULL;
  if (g_strcmp0 (owner, ferry_res_name (res)) != 0)
    {
      if (!ferry_state_forget (res->state, FERRY_KIND_TOPIC, error))
        return NULL;
      return (ferry_throw (error, FERRY_ERROR_FAILED,
                           "an SNS topic named %s exists and ferry did not create it (no %s=%s tag):"
                           " delete it, or use another --name",
                           topic, FERRY_TAG_KEY, ferry_res_name (res)),
              NULL);
    }
  if (!ferry_res_update (res, FERRY_KIND_TOPIC, "arn", json_string (arn), error))
    return NULL;
  ferry_res_log (res, "created SNS topic %s (%s)", topic, arn);
  return g_strdup (arn);
}

gboolean
ferry_topic_ensure (FerryResources *res, const FerrySpec *spec, GCancellable *cancellable,
                    GError **error)
{
  g_autofree char *topic = ferry_topic_name (ferry_res_name (res));
  g_autoptr(json_t) rec = ferry_state_dup_resource (res->state, FERRY_KIND_TOPIC);
  g_autofree char *arn = g_strdup (json_string_value (json_object_get (rec, "arn")));
  json_t *emails = json_object_get (rec, "emails");
  g_autoptr(json_t) filter = NULL;
  g_autofree char *attributes = NULL;
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr(json_t) out = NULL;
  g_autoptr(json_t) now_emails = NULL;
  json_t *one;
  size_t i;

  if (spec->notify_email == NULL || res->dry_run)
    return TRUE;
  if (arn == NULL)
    {
      arn = topic_create (res, topic, cancellable, error);
      if (arn == NULL)
        return FALSE;
    }
  json_array_foreach (emails, i, one)
    if (g_strcmp0 (json_string_value (one), spec->notify_email) == 0)
      return TRUE;
  /* Each address gets only the messages that name it. */
  filter = json_pack ("{s:[s]}", FERRY_TOPIC_EMAIL_ATTRIBUTE, spec->notify_email);
  {
    g_autofree char *filter_text = json_dumps (filter, JSON_COMPACT);
    g_autoptr(json_t) attrs = json_pack ("{s:s}", "FilterPolicy", filter_text);
    attributes = json_dumps (attrs, JSON_COMPACT);
  }
  g_strv_builder_add_many (b, "--topic-arn", arn, "--protocol", "email", "--notification-endpoint",
                           spec->notify_email, "--attributes", attributes, NULL);
  out = ferry_res_call (res, "sns", "subscribe", b, cancellable, error);
  if (out == NULL)
    return (g_prefix_error (error, "subscribing %s to SNS topic %s: ", spec->notify_email, topic),
            FALSE);
  now_emails = json_is_array (emails) ? json_copy (emails) : json_array ();
  json_array_append_new (now_emails, json_string (spec->notify_email));
  if (!ferry_res_update (res, FERRY_KIND_TOPIC, "emails", g_steal_pointer (&now_emails), error))
    return FALSE;
  ferry_res_log (res, "subscribed %s to SNS topic %s", spec->notify_email, topic);
  return TRUE;
}

/* A lookup that failed (takes `failure`). Looked for by name alone, without a state file, SNS closed
 * to the credentials is a line, as for budgets, not a failed teardown; the state's topic is an error. */
static gboolean
topic_lookup_failed (FerryDiscovery *d, gboolean by_name, const char *topic, GError *failure,
                     GError **error)
{
  g_autoptr(GError) local_error = failure;

  if (!by_name || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (d->log != NULL)
    {
      g_autofree char *line = g_strdup_printf ("SNS topic %s: not looked up (%s)", topic,
                                               local_error->message);
      d->log (line, d->log_data);
    }
  return TRUE;
}

/* Only the topic the state records (or intends): its ARN was recorded after its tag was checked;
 * an intent without one is looked for by name, and counts as ferry's only with the tag. */
gboolean
ferry_topic_discover (FerryDiscovery *d, GCancellable *cancellable, GError **error)
{
  const char *kept = d->state != NULL ? ferry_state_get_name (d->state) : NULL;
  g_autoptr(json_t) rec = NULL;
  g_autofree char *topic = NULL;
  g_autofree char *arn = NULL;
  g_autofree char *owner = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(json_t) attrs = NULL;
  FerryFound *found;

  if (kept == NULL || (d->name != NULL && !g_str_equal (d->name, kept)))
    return TRUE;
  rec = ferry_state_dup_resource (d->state, FERRY_KIND_TOPIC);
  /* Without a state file (lost, or never here) the topic is looked for by its name, and is the
   * deployment's only with its tag: teardown by tag alone leaves no topic behind. */
  if (rec == NULL && ferry_state_exists_on_disk (d->state))
    return TRUE;
  topic = rec != NULL ? g_strdup (json_string_value (json_object_get (rec, "id")))
                      : ferry_topic_name (kept);
  arn = g_strdup (json_string_value (json_object_get (rec, "arn")));
  if (arn != NULL)
    owner = g_strdup (kept);
  else
    {
      arn = topic_find (d->aws, topic, cancellable, &local_error);
      if (arn != NULL && !topic_owner (d->aws, arn, &owner, cancellable, &local_error))
        g_clear_pointer (&arn, g_free);
      if (arn == NULL && local_error != NULL)
        return topic_lookup_failed (d, rec == NULL, topic, g_steal_pointer (&local_error), error);
      if (arn == NULL)
        return TRUE;
      if (rec == NULL && g_strcmp0 (owner, kept) != 0)
        return TRUE;
    }
  {
    const char *args[] = { "--topic-arn", arn, NULL };
    attrs = ferry_aws_call (d->aws, "sns", "get-topic-attributes", args, cancellable, &local_error);
  }
  if (attrs == NULL)
    {
      if (g_error_matches (local_error, FERRY_ERROR, FERRY_ERROR_NOT_FOUND))
        return TRUE;
      return topic_lookup_failed (d, rec == NULL, topic, g_steal_pointer (&local_error), error);
    }
  found = ferry_found_new (FERRY_KIND_TOPIC, topic);
  found->owner = g_steal_pointer (&owner);
  found->aws_name = g_strdup (topic);
  found->detail = g_strdup (arn);
  {
    json_t *a = json_object_get (attrs, "Attributes");
    const char *confirmed = json_string_value (json_object_get (a, "SubscriptionsConfirmed"));
    const char *pending = json_string_value (json_object_get (a, "SubscriptionsPending"));
    found->state = g_strdup_printf ("%s subscribed, %s pending", confirmed ? confirmed : "?",
                                    pending ? pending : "?");
  }
  found->live = TRUE;
  ferry_discovery_add (d, found);
  return TRUE;
}

gboolean
ferry_topic_delete (FerryTeardown *td, GPtrArray *items, GCancellable *cancellable, GError **error)
{
  for (guint i = 0; i < items->len; i++)
    {
      FerryFound *item = items->pdata[i];
      g_autofree char *arn = g_strdup (item->detail);

      if (arn == NULL)
        arn = ferry_state_dup_resource_string (td->state, FERRY_KIND_TOPIC, "arn");
      if (arn == NULL)
        {
          /* An intent whose create call never made the topic. */
          if (!ferry_td_done (td, item, TRUE, error))
            return FALSE;
          continue;
        }
      {
        const char *args[] = { "--topic-arn", arn, NULL };
        if (!ferry_td_delete_item (td, item, "sns", "delete-topic", args, NULL, cancellable, error))
          return FALSE;
      }
    }
  return TRUE;
}
