/* Open MPI's own MPI_Allreduce, timed the way bench/allreduce.ts times ours: for each size (bytes, float32
 * sum, in place), one warm-up call, then `iters` calls each after a barrier; the median per rank, the maximum
 * over ranks. Rank 0 prints one JSON line per size: BENCH {"impl":"c-mpi","ranks":N,"bytes":B,"ms":T}.
 * Built by bench/allreduce.ts: mpicc -O2 -o out/mpi_allreduce bench/mpi_allreduce.c
 * Usage: mpirun -np N out/mpi_allreduce ITERS BYTES... */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int iters = argc > 1 ? atoi(argv[1]) : 5;
  double *times = malloc(sizeof(double) * iters);
  for (int a = 2; a < argc; a++) {
    long bytes = atol(argv[a]);
    int n = (int)(bytes / 4);
    float *buf = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) buf[i] = 1.0f;
    MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    for (int k = 0; k < iters; k++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      times[k] = (MPI_Wtime() - t0) * 1e3;
    }
    qsort(times, iters, sizeof(double), cmp);
    double med = times[iters / 2], worst;
    MPI_Reduce(&med, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
      printf("BENCH {\"impl\":\"c-mpi\",\"ranks\":%d,\"bytes\":%ld,\"ms\":%.4f}\n", size, (long)n * 4, worst);
      fflush(stdout);
    }
    free(buf);
  }
  free(times);
  MPI_Finalize();
  return 0;
}
