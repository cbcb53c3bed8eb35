// The package's entry point (`import { defineJobKind } from "jobgraph"`): what a kind file may use.
export { defineJobKind, type DefinedJobKind, type JobKindContext, type JobKindDefinition } from './define';
