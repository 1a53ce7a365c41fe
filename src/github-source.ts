/** The GitHub repository the pipeline deploys from. */
export interface GitHubSourceProps {
  /** The repository owner (user or organization). */
  readonly owner: string;
  /** The repository name. */
  readonly repo: string;
  /**
   * The branch whose pushes start the pipeline.
   * @default "main"
   */
  readonly branch?: string;
  /**
   * ARN of an existing CodeConnections connection to GitHub (`arn:aws:codeconnections:...` or
   * the older `arn:aws:codestar-connections:...`).
   * @default - a new connection is created; it stays PENDING until someone completes the
   * GitHub handshake in the console (Developer Tools > Settings > Connections)
   */
  readonly connectionArn?: string;
}
