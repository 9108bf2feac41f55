/* CImageIO: JPEG and PNG decoding/encoding over libjpeg-turbo and libpng, with errors returned
 * instead of exit()/longjmp escaping into Swift. (Owned by the image-decoding work.) */
#ifndef CIMAGEIO_H
#define CIMAGEIO_H
#endif
