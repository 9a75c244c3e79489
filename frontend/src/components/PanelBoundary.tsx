import { Component, type ErrorInfo, type ReactNode } from 'react'

interface Props {
  name: string
  /** What the reload button does besides showing the panel again: load the data afresh. */
  onReload: () => void
  children: ReactNode
}

/** One part of the page: an error while it renders shows a small message and a reload button in its place,
 * and the rest of the page goes on, instead of React leaving the whole page blank. */
export class PanelBoundary extends Component<Props, { error: Error | null }> {
  state = { error: null as Error | null }

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) }
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error(`${this.props.name}: could not be shown`, error, info.componentStack)
  }

  reload = (): void => {
    this.setState({ error: null })
    this.props.onReload()
  }

  render(): ReactNode {
    const { error } = this.state
    if (!error) return this.props.children
    return (
      <section className="panel failed" role="alert" data-testid="panel-failed">
        <h2>{this.props.name}</h2>
        <p>This part could not be shown: {error.message}</p>
        <button onClick={this.reload}>Reload</button>
      </section>
    )
  }
}
