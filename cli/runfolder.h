/*
 * runfolder.h: a training run's folder: its checkpoints (ckpt_%08d.bin: the newest found, old ones
 * pruned, a folder that holds another run refused) and its CSV logs (opened with their header,
 * cut back to a resumed step, every write checked).
 */
#ifndef CLI_RUNFOLDER_H
#define CLI_RUNFOLDER_H

#include <stdio.h>

#define MAX_LISTED 4096 // checkpoint steps a folder listing returns (it counts them all)

// the newest checkpoint's step (-1: none) with its path in path, or with count_only how many there are;
// steps_out, when given, gets their steps (room for MAX_LISTED)
int newest_checkpoint(const char *dir, char *path, size_t n, int *steps_out, int count_only);
// which checkpoint a stopped run leaves, for its last message
void checkpoint_left(char *msg, size_t n, const char *dir);
// deletes all but the newest keep checkpoints
void prune_checkpoints(const char *dir, int keep);
// stops unless dir holds no other run's checkpoints; --overwrite (overwrite) deletes them (rank 0)
void claim_run_folder(const char *dir, int overwrite, int rank);
// keeps the header and the rows whose first field (the step) is <= upto
void truncate_csv(const char *path, int upto);
// dir/name for writing, or appending when append; the header goes first into a new or empty file
FILE *open_csv(const char *dir, const char *name, const char *header, int append);
// flushes a log and stops the run if it could not be written
void csv_flush(FILE *f, const char *dir, const char *name);

#endif
