import { execFileSync } from 'child_process';
import { Component } from 'projen';

/**
 * Runs after projen's own `npm install` (components synthesize in the order they were added, the
 * package first): repairs any lockfile entry without a version before it can be committed. npm
 * never rewrites such entries itself (npm/cli#9342), and every npm then refuses the lockfile.
 */
export class LockfileGuard extends Component {
  public static readonly COMMAND = 'node projenrc/check-lockfile.mjs --repair --offline .';

  public postSynthesize(): void {
    execFileSync('bash', ['-c', LockfileGuard.COMMAND], { cwd: this.project.outdir, stdio: 'inherit' });
  }
}
