/** Options of the manual approval before `Switch-Traffic`. */
export interface ManualApprovalOptions {
  /**
   * Text shown to the approver.
   * @default - a description of the version about to receive traffic
   */
  readonly additionalInformation?: string;
  /**
   * Email addresses notified of the approval request (through the notification topic).
   * @default - subscribers of the notification topic only
   */
  readonly notifyEmails?: string[];
}
