"""The case registry (案件): intake from every channel, workflow, deadlines, timeline, evidence."""
