// The shape of a resource as the API returns it, for commands that render one (types only: no runtime code).
export interface ResourceView<S = Record<string, unknown>, T = Record<string, unknown>> {
  kind: string;
  metadata: { name: string; uid: string; createdAt: string; labels: Record<string, string>; deletionTimestamp?: string };
  spec: S;
  status: T & { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

/** The Ready condition when it is not True: what keeps the resource from being usable. */
export function notReady(r: ResourceView): { reason: string; message: string } | undefined {
  const ready = r.status.conditions?.find((c) => c.type === 'Ready');
  return ready && ready.status !== 'True' ? ready : undefined;
}
