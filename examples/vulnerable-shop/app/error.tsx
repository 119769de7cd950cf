"use client";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <div>
      <h2>Something went wrong</h2>
      {/* ruleid: LL012 */}
      <pre>{error.message}</pre>
      {/* ok: LL012 — the digest identifies the server log entry without revealing it */}
      <small>Reference: {error.digest}</small>
      <button onClick={() => reset()}>Try again</button>
    </div>
  );
}
