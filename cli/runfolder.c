/*
 * runfolder.c: a training run's folder, its checkpoints and CSV logs; see runfolder.h.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include "../util/common.h"
#include "runfolder.h"

int newest_checkpoint(const char *dir, char *path, size_t n, int *steps_out, int count_only) {
    DIR *d = opendir(dir);
    if (!d) return count_only ? 0 : -1;
    struct dirent *e;
    int best = -1, count = 0;
    while ((e = readdir(d)) != NULL) {
        int step;
        char tail[8];
        if (sscanf(e->d_name, "ckpt_%d.bi%1s", &step, tail) == 2 && strcmp(tail, "n") == 0 &&
            strlen(e->d_name) == strlen("ckpt_00000000.bin")) {
            if (steps_out && count < MAX_LISTED) steps_out[count] = step; // the callers' arrays hold MAX_LISTED
            count++;
            if (step > best) best = step;
        }
    }
    closedir(d);
    if (count_only) return count;
    if (best >= 0) snprintf(path, n, "%s/ckpt_%08d.bin", dir, best);
    return best;
}

// says which checkpoint a stopped run leaves, for its last message
void checkpoint_left(char *msg, size_t n, const char *dir) {
    char path[4096];
    if (newest_checkpoint(dir, path, sizeof(path), NULL, 0) >= 0) snprintf(msg, n, "the last good checkpoint %s is kept", path);
    else snprintf(msg, n, "no checkpoint was written yet");
}

void prune_checkpoints(const char *dir, int keep) {
    int steps[MAX_LISTED];
    int n = newest_checkpoint(dir, NULL, 0, steps, 1);
    if (n > MAX_LISTED) n = MAX_LISTED;
    for (int i = 0; i < n; i++) {
        int newer = 0;
        for (int j = 0; j < n; j++) if (steps[j] > steps[i]) newer++;
        if (newer >= keep) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/ckpt_%08d.bin", dir, steps[i]);
            remove(path);
        }
    }
}

// a new run must not share its folder with another run's checkpoints: pruning keeps the newest steps,
// which would be the old run's, so the new run's checkpoints were deleted as soon as they were written,
// and a later --resume continued the old run on top of the new log. --overwrite deletes them first
void claim_run_folder(const char *dir, int overwrite, int rank) {
    int n = newest_checkpoint(dir, NULL, 0, NULL, 1);
    if (n == 0) return;
    if (!overwrite)
        die("the output folder '%s' holds another run (%d checkpoint%s)\nHINT: continue it with --resume %s, pick another -o, "
            "or pass --overwrite to delete its checkpoints and start anew", dir, n, n == 1 ? "" : "s", dir);
    if (rank > 0) return; // rank 0 deletes them
    prune_checkpoints(dir, 0);
    if (newest_checkpoint(dir, NULL, 0, NULL, 1) > 0)
        die("cannot delete the checkpoints in '%s'\nHINT: check the folder's permissions, or pick another -o", dir);
}

// keeps the header and the rows whose first field (the step) is <= upto; used when resuming
void truncate_csv(const char *path, int upto) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *g = fopen_check(tmp, "w");
    char line[4096];
    int first = 1;
    while (fgets(line, sizeof(line), f)) {
        if (first || atoi(line) <= upto) fputs(line, g);
        first = 0;
    }
    fclose(f);
    close_output(g, tmp); // a full disk: the temporary copy goes, the log stays as it was
    if (rename(tmp, path) != 0) die("could not rewrite '%s' (%s)\nHINT: check the run folder's permissions", path, strerror(errno));
}

FILE *open_csv(const char *dir, const char *name, const char *header, int append) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    int exists = stat(path, &st) == 0 && st.st_size > 0;
    FILE *f = fopen_check(path, append ? "a" : "w");
    if (!append || !exists) fprintf(f, "%s\n", header);
    return f;
}

// a log row that cannot be written stops the run: a silently short log.csv would look like a shorter run
void csv_flush(FILE *f, const char *dir, const char *name) {
    if (fflush(f) != 0 || ferror(f))
        die("cannot write %s/%s (%s)\nHINT: is the disk full? free space and continue with --resume %s", dir, name, strerror(errno), dir);
}
