/**
 * Keeps a connection's sends in call order while Blobs are read (ws 8.18+ sends Blobs): a Blob's
 * bytes arrive asynchronously, so what is sent after it waits, then everything runs in order.
 */
export class BlobSends {
  private readonly jobs: Array<{ ready: boolean; run: () => void }> = [];
  /** Bytes of the Blobs being read (they count in `bufferedAmount`). */
  bytes = 0;

  /** Whether a send must wait: a Blob is being read, or sends wait behind one. */
  get waiting(): boolean {
    return this.jobs.length !== 0;
  }

  /**
   * Reads `blob`; once it is read and every earlier job has run, calls `onBytes` with its bytes
   * (or `onError` if reading failed), outside the promise chain: what they throw is an
   * exception, not an unhandled rejection.
   */
  read(blob: Blob, onBytes: (bytes: Uint8Array) => void, onError: (error: Error) => void): void {
    const size = blob.size;
    const job = { ready: false, run: noop };
    this.jobs.push(job);
    this.bytes += size;
    const settle = (run: () => void): void => {
      job.run = () => {
        this.bytes -= size;
        run();
      };
      job.ready = true;
      process.nextTick(() => this.runReady());
    };
    blob.arrayBuffer().then(
      (buffer) => settle(() => onBytes(new Uint8Array(buffer))),
      (error: unknown) => settle(() => onError(error instanceof Error ? error : new Error(String(error)))),
    );
  }

  /** Runs `run` after the Blobs (and sends) queued so far. */
  push(run: () => void): void {
    this.jobs.push({ ready: true, run });
  }

  private runReady(): void {
    const jobs = this.jobs;
    while (jobs.length !== 0 && jobs[0]!.ready) jobs.shift()!.run();
  }
}

function noop(): void {}
