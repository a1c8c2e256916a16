// Upload limits shared by the CLI, the server and the server's settings. Plain numbers, apart from the TypeBox
// contract, so the CLI's start-up path (the `server` command's defaults) can read them without loading it.

/** Upper bound of an uploaded template archive (the CLI checks it before uploading; the server enforces it). */
export const maxTemplateArchiveBytes = 10 * 1024 * 1024;

/** The default `--upload-quota`: bytes of uploads a member may store, ten archives of the largest size. */
export const defaultUploadQuotaBytes = 10 * maxTemplateArchiveBytes;
