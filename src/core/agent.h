/* The run's agent on the instance: carries out --then there when snakemake ends (the record's
 * on_end says what and with which instance), and the laptop's side of it (the hold, its record). */
#pragma once

#include "ferry-common.h"
#include "remote.h"

G_BEGIN_DECLS

/* Where an instance asks about itself (IMDSv2), for the spot interruption notice; the record's
 * on_end "imds" names it (FERRY_IMDS_URL, for tests only, sets another). */
#define FERRY_AGENT_IMDS_URL "http://169.254.169.254"

/* Seconds a hold counts after its last refresh, once the laptop that kept it is gone. */
#define FERRY_AGENT_HOLD_S 300

/* The instance's tag where its agent leaves "RUN exit=N ended=EPOCH then=stop" before stopping it:
 * the story of a stopped instance, read from AWS without starting it. */
#define FERRY_AGENT_TAG_KEY "ferry:run"

/* The record's on_end: {"then", "by": "instance", "instance_id", "region", "endpoint_url" (absent without one),
 * "hold_s", "bucket" and "deployment" (--then terminate: where the agent saves the outputs that
 * the record lists as "outputs" before the instance goes)}, or with why_not set {"then", "by":
 * "laptop", "why"}: --then is the laptop's when it next pulls. */
json_t *ferry_agent_on_end (const char *then, const char *instance_id, const char *region,
                            const char *endpoint_url, const char *bucket, const char *deployment,
                            const char *why_not);

/* Whether the record's --then is the instance's to carry out (its on_end says by instance). */
gboolean ferry_agent_by_instance (json_t *record);

/* The agent script for the run of `record` (its settings, each shell-quoted, then
 * templates/run-agent.sh), or NULL with no error when the record leaves --then to the laptop. */
char *ferry_agent_render (json_t *record, GError **error);

/* The agent's record as the run's list gave it (run->on_end): the time of its event `word`
 * ("stopping", "kept", "waiting"...), the last such, or 0 when there is none. */
gint64 ferry_agent_event (FerryRun *run, const char *word, const char **out_detail);

/* Whether the agent has carried out --then (stop- or terminate-instances accepted, or nothing to
 * do). */
gboolean ferry_agent_acted (FerryRun *run);

/* Lets the agent go on once the outputs are home: removes the hold the laptop kept while it
 * followed the run. */
gboolean ferry_agent_release (FerryRemote *remote, const char *remote_dir, FerryRun *run,
                              GCancellable *cancellable, GError **error);

G_END_DECLS
