/**
 * What pull, push and load report while they move blobs, for a display such as Docker's
 * (one line per layer and a total). The image layer only emits; the CLI draws.
 */
export interface ProgressEvent {
  /** The blob, short: the first 12 hex digits of its digest, as Docker shows them. */
  id: string;
  /** Waiting, Downloading, Retrying, Verifying, Download complete, Already exists, Pushing, Pushed, Mounted from ... */
  status: string;
  current?: number;
  total?: number;
}

export type ProgressSink = (e: ProgressEvent) => void;

export const shortId = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
