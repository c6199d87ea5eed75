// A NestJS application equivalent to the todo example's bearer path:
// POST /signup and POST /users/login ({token}: an HS256 JWT from
// @nestjs/jwt), and GET/POST /todos behind @nestjs/passport's
// AuthGuard('jwt') with passport-jwt, each user's todos kept in memory.
// Plain JavaScript (ES modules, as NestJS 12 ships), no build step: the
// decorators are applied by hand, as TypeScript compiles them, and the
// constructor parameter types that TypeScript would emit are declared with
// Reflect.defineMetadata('design:paramtypes', ...).
//
//   HOST=127.0.0.1 PORT=0 node nest/app.mjs
//
// It prints `listening http://HOST:PORT`. The JWT secret is random per run.
import 'reflect-metadata';
import {randomBytes, randomUUID, scrypt, timingSafeEqual} from 'node:crypto';
import {promisify} from 'node:util';
import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Req,
  UnauthorizedException,
  UseGuards,
} from '@nestjs/common';
import {NestFactory} from '@nestjs/core';
import {JwtModule, JwtService} from '@nestjs/jwt';
import {AuthGuard, PassportModule, PassportStrategy} from '@nestjs/passport';
import passportJwt from 'passport-jwt';

const {ExtractJwt, Strategy} = passportJwt;
const SECRET = randomBytes(32).toString('base64');
const scryptAsync = promisify(scrypt);

/** Applies method decorators (and a parameter decorator per index) as TypeScript does. */
function decorate(cls, method, decorators, params = []) {
  const descriptor = Object.getOwnPropertyDescriptor(cls.prototype, method);
  params.forEach((d, i) => d(cls.prototype, method, i));
  Reflect.defineMetadata('design:paramtypes', params.map(() => Object), cls.prototype, method);
  for (const d of [...decorators].reverse()) d(cls.prototype, method, descriptor);
}

class UsersService {
  constructor() {
    this.byEmail = new Map();
  }

  async create(email, password) {
    if (typeof email !== 'string' || typeof password !== 'string' || password.length < 8) {
      throw new BadRequestException('email and a password of 8 characters or more are required');
    }
    if (this.byEmail.has(email)) throw new ConflictException(`a user with email ${email} exists`);
    const salt = randomBytes(16);
    const hash = await scryptAsync(password, salt, 32);
    const user = {id: randomUUID(), email, salt, hash};
    this.byEmail.set(email, user);
    return {id: user.id, email};
  }

  async verify(email, password) {
    const user = this.byEmail.get(email);
    if (!user || typeof password !== 'string') throw new UnauthorizedException('Invalid email or password.');
    const hash = await scryptAsync(password, user.salt, 32);
    if (!timingSafeEqual(hash, user.hash)) throw new UnauthorizedException('Invalid email or password.');
    return user;
  }
}
Injectable()(UsersService);

class TodosService {
  constructor() {
    this.byUser = new Map();
    this.nextId = 1;
  }

  list(userId) {
    return this.byUser.get(userId) ?? [];
  }

  create(userId, body) {
    if (typeof body?.title !== 'string' || body.title.trim() === '') {
      throw new BadRequestException('title is required');
    }
    const todo = {id: this.nextId++, title: body.title, desc: body.desc, isComplete: false};
    const todos = this.byUser.get(userId) ?? [];
    todos.push(todo);
    this.byUser.set(userId, todos);
    return todo;
  }
}
Injectable()(TodosService);

class JwtStrategy extends PassportStrategy(Strategy) {
  constructor() {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      ignoreExpiration: false,
      secretOrKey: SECRET,
      algorithms: ['HS256'],
    });
  }

  validate(payload) {
    return {id: payload.sub, email: payload.email};
  }
}
Injectable()(JwtStrategy);
Reflect.defineMetadata('design:paramtypes', [], JwtStrategy);

class AuthController {
  constructor(users, jwt) {
    this.users = users;
    this.jwt = jwt;
  }

  signup(body) {
    return this.users.create(body?.email, body?.password);
  }

  async login(body) {
    const user = await this.users.verify(body?.email, body?.password);
    return {token: await this.jwt.signAsync({sub: user.id, email: user.email})};
  }

  whoAmI(req) {
    return req.user.id;
  }
}
Controller()(AuthController);
Reflect.defineMetadata('design:paramtypes', [UsersService, JwtService], AuthController);
decorate(AuthController, 'signup', [Post('signup'), HttpCode(200)], [Body()]);
decorate(AuthController, 'login', [Post('users/login'), HttpCode(200)], [Body()]);
decorate(AuthController, 'whoAmI', [Get('whoAmI'), UseGuards(AuthGuard('jwt'))], [Req()]);

class TodosController {
  constructor(todos) {
    this.todos = todos;
  }

  find(req) {
    return this.todos.list(req.user.id);
  }

  create(req, body) {
    return this.todos.create(req.user.id, body);
  }
}
Controller('todos')(TodosController);
UseGuards(AuthGuard('jwt'))(TodosController);
Reflect.defineMetadata('design:paramtypes', [TodosService], TodosController);
decorate(TodosController, 'find', [Get()], [Req()]);
decorate(TodosController, 'create', [Post(), HttpCode(200)], [Req(), Body()]);

class AppModule {}
Module({
  imports: [PassportModule, JwtModule.register({secret: SECRET, signOptions: {expiresIn: '6h'}})],
  controllers: [AuthController, TodosController],
  providers: [UsersService, TodosService, JwtStrategy],
})(AppModule);

const app = await NestFactory.create(AppModule, {logger: ['error', 'warn']});
await app.listen(+(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
const {address, port} = app.getHttpServer().address();
console.log(`listening http://${address}:${port}`);
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
