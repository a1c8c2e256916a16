// The provisioner job queue: enqueue, acquire, heartbeat, complete, fail, cancel, and the hung-job reaper.
export {
  isTerminal,
  JOB_STATUSES,
  type JobStatus,
  jobStatus,
  jobStatusSql,
} from "../store/job-status.js";
export {
  countUnfinishedJobs,
  getJob,
  getJobs,
  insertJobLogs,
  insertJobTimings,
  type JobLog,
  type JobLogInput,
  type JobTiming,
  type JobTimingInput,
  listJobLogs,
  listJobTimings,
  type ProvisionerJob,
  type TemplateImportJobInput,
  type WorkspaceBuildJobInput,
} from "../store/jobs.js";
export {
  type AcquireJobRequest,
  acquireJob,
  type CancelResult,
  cancelJob,
  completeJob,
  type EnqueueJobInput,
  enqueueJob,
  type FailJobInput,
  failJob,
  heartbeatJob,
  JobStateError,
  type JobStateErrorKind,
  notifyJobPosted,
  publishEndOfLogs,
  type WriteResults,
} from "./queue.js";
export {
  DEFAULT_PENDING_TIMEOUT_MS,
  DEFAULT_RUNNING_TIMEOUT_MS,
  goDuration,
  HUNG_ERROR_CODE,
  PENDING_TIMEOUT_ERROR_CODE,
  type ReapedJob,
  type ReaperOptions,
  reapHungJobs,
  reapReason,
} from "./reaper.js";
export { InvalidTagsError, normalizeTags, serializeTags, type Tags, tagsMatch } from "./tags.js";
