// The fields a control message and a command carry alike: as a sender writes them (with one field
// the parser does not know), and as the parser keeps them (instants normalised, the unknown left out).
export const SENT_FIELDS = {
  drainId: 'd1',
  deadline: '2030-01-01T10:00:00+02:00',
  notAfter: '2030-01-01T08:00:00Z',
  reason: 'scale in',
  requestedBy: 'ops@example.com',
  replyTo: 'reports-eu',
  somethingNew: 42,
};

export const KEPT_FIELDS = {
  drainId: 'd1',
  deadline: '2030-01-01T08:00:00.000Z',
  notAfter: '2030-01-01T08:00:00.000Z',
  reason: 'scale in',
  requestedBy: 'ops@example.com',
  replyTo: 'reports-eu',
};
