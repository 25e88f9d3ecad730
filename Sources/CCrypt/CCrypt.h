// libxcrypt (Debian's libcrypt-dev): crypt_rn with a caller's struct crypt_data, and
// crypt_checksalt. The static-buffer crypt() is not thread-safe and is never called.
#ifndef RDLM_CCRYPT_H
#define RDLM_CCRYPT_H

#include <crypt.h>

#endif
